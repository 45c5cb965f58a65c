// The weight-streaming input-gradient product dX = dY W^T (docs/design.md §2.3, backward): weights stream again down every
// column from the edge row, output by output; dY lives where the forward product left Y (the last column holds
// dY[:, o] for its n tokens) and is multicast west along each row for each output; every worker accumulates
// dX[f] += W[f, o] dY[:, o] for its k features with k FMACs. dX ends in the 2-D block layout of the activations
// (feature block j on column j, token block i on row i), ready for the layer below. fp32.
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.WeightStreaming;

/// <summary>fp16: W and dY in fp16 (one value per wavelet), dX accumulated in fp32 by @fmachs.</summary>
public sealed class WeightStreamInputGradient(bool fp16 = false) : IFabricDemo
{
    public const int StartTask = 10;

    public string Name => fp16 ? "wsmm-dx-fp16" : "wsmm-dx";
    public string Description => "weight-streaming input gradient dX = dY W^T: weights streamed down columns, dY multicast west along rows"
        + (fp16 ? "; fp16 W and dY, fp32 accumulation (@fmachs)" : "");
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block | SizeOptions.Outputs;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var (cc, r, n, k, dOut) = WeightStreamLayout.Shape(Name, wafer, size);
        var layout = new FabricLayout(cc, r + 1);
        WeightStreamLayout.WeightColumns(layout, cc, r);
        WeightStreamLayout.GradientRowsWest(layout, cc, r);
        var codes = new Dictionary<bool, PeCode>();
        var injector = fp16 ? WeightStreamLayout.InjectorF16(dOut * k, StartTask) : WeightStreamLayout.Injector(dOut * k, StartTask);
        layout.SetCode((x, y) =>
        {
            if (y == 0) return injector;
            var last = x == cc - 1;
            if (!codes.TryGetValue(last, out var code)) codes[last] = code = Worker(last, cc > 1, k, n, dOut, fp16);
            return code;
        });
        var sim = new Simulator(wafer, layout, options);

        var wBlock = new float[dOut * k];
        var dy = new float[dOut * n];
        for (var x = 0; x < cc; x++)
        {
            WeightStreamLayout.WeightBlock(size.Seed, x, wBlock);
            if (fp16) sim.Host.MemcpyH2DF16("W", x, 0, wBlock); else sim.Host.MemcpyH2D("W", x, 0, wBlock);
        }
        for (var y = 1; y <= r; y++)
        {
            WeightStreamLayout.ActivationBlock(size.Seed, cc, y, dy); // dY[o][t] of row y, on the last column
            if (fp16) sim.Host.MemcpyH2DF16("dY", cc - 1, y, dy); else sim.Host.MemcpyH2D("dY", cc - 1, y, dy);
        }
        sim.Host.EndBatch();
        sim.Launch(StartTask);
        sim.Run();
        var got = sim.Host.MemcpyD2H("dX", 0, 1, cc, r, k * n);

        // Reference: dX[t, f] = sum_o dY[t, o] W[f, o], per PE block, in double.
        double maxErr = 0, tol = 0;
        for (var y = 1; y <= r; y++)
        {
            WeightStreamLayout.ActivationBlock(size.Seed, cc, y, dy);
            if (fp16) Round(dy);
            for (var x = 0; x < cc; x++)
            {
                WeightStreamLayout.WeightBlock(size.Seed, x, wBlock);
                if (fp16) Round(wBlock);
                for (var f = 0; f < k; f++)
                    for (var t = 0; t < n; t++)
                    {
                        double sum = 0, mag = 0;
                        for (var o = 0; o < dOut; o++) { var p = (double)dy[o * n + t] * wBlock[o * k + f]; sum += p; mag += Math.Abs(p); }
                        maxErr = Math.Max(maxErr, Math.Abs(got[((y - 1) * cc + x) * k * n + f * n + t] - sum));
                        tol = Math.Max(tol, 4 * float.Epsilon + 2e-6 * mag);
                    }
            }
        }
        var parameters = new Dictionary<string, object> { ["columns"] = cc, ["workerRows"] = r, ["tokensPerPe"] = n, ["featuresPerPe"] = k, ["outputs"] = dOut };
        var extra = new Dictionary<string, double> { ["macs"] = (double)n * r * k * cc * dOut };
        return new DemoResult(sim, maxErr, tol, parameters, extra,
            fp16 ? WeightStreamModel.InputGradientCyclesFp16(wafer, cc, r, n, k, dOut, Addresses(k, n))
                 : WeightStreamModel.InputGradientCycles(wafer, cc, r, n, k, dOut));
    }

    private static void Round(float[] values) { for (var i = 0; i < values.Length; i++) values[i] = (float)(Half)values[i]; }

    /// <summary>fp16 worker symbols: dX (fp32, at 0), Wb (fp16), o, a pad, then the dY buffer (the last column's dY,
    /// the others' D) 8 bytes past a 16-byte boundary (4 banks from dX: @fmachs at full width when n % 8 == 0).
    /// Returns (dX, gradient) byte addresses.</summary>
    internal static (int Dx, int Gradient) Addresses(int k, int n)
    {
        var wb = 4 * k * n;
        var o = (wb + 2 * k + 3) & ~3;
        var end = o + 4;
        return (0, ((end + 3) & ~3) + WeightStreamLayout.PadToBankOffset(end));
    }

    /// <summary>last: the column holding dY (it multicasts dY[:, o] west for each o); chain: more than one column.</summary>
    private static PeCode Worker(bool last, bool chain, int k, int n, int dOut, bool fp16)
    {
        var code = new PeCode((last ? "wsmm-dx-last" : "wsmm-dx") + (fp16 ? "-h" : "")).SymbolF32("dX", k * n);
        if (fp16) code.SymbolF16("Wb", k).Symbol("o", 4).Symbol("pad", WeightStreamLayout.PadToBankOffset(code.AddressOf("o") + 4));
        else code.SymbolF32("Wb", k).Symbol("o", 4);
        code.InputQueue(WeightStreamLayout.WeightInQueue, WeightStreamLayout.WeightColor);
        WeightStreamLayout.DeclareGradient(code, last, chain, n, dOut, fp16);
        int dxAddress = code.AddressOf("dX"), wAddress = code.AddressOf("Wb"), oAddress = code.AddressOf("o");
        var gradAddress = WeightStreamLayout.GradientAddress(code, last);
        var wb = Dsd.Mem1D(wAddress, k);
        var dxs = Enumerable.Range(0, k).Select(f => Dsd.Mem1D(dxAddress + f * n * 4, n)).ToArray();
        Action<TaskContext>? loop = null;
        loop = ctx =>
        {
            var o = ctx.LoadI32(oAddress);
            if (o == dOut) return;
            ctx.StoreI32(oAddress, o + 1);
            var weightsIn = Dsd.FabIn(WeightStreamLayout.WeightColor, k, WeightStreamLayout.WeightInQueue); // W[:, o] for these k features
            if (fp16) ctx.Fmovh(wb, weightsIn); else ctx.Fmovs(wb, weightsIn);
            var g = Dsd.Mem1D(WeightStreamLayout.IssueGradientMove(ctx, last, chain, n, gradAddress, o, fp16), n);
            for (var f = 0; f < k; f++) // dX_f += W[f, o] dY_o
                if (fp16) ctx.Fmachs(dxs[f], dxs[f], g, ScalarOperand.Mem(wAddress + f * 2));
                else ctx.Fmacs(dxs[f], dxs[f], g, Operand.Mem(wAddress + f * 4));
            ctx.Then(loop!);
        };
        code.LocalTask(StartTask, ctx =>
        {
            ctx.StoreI32(oAddress, 0);
            ctx.Fmovs(Dsd.Mem1D(dxAddress, k * n), 0f);
            ctx.Then(loop);
        });
        return code;
    }
}

// The weight-streaming weight gradient dW = X^T dY (docs/design.md §2.3, backward), streamed out to the edge. For each output
// o the last column multicasts dY[:, o] west along its row (as in wsmm-dx); every worker accumulates its k partial
// sums dW[f, o] over its n tokens (n FMACs of length k over its feature-major X with stride n; fp16 X and dY with
// fp32 sums in wsmm-dw-fp16); the partials of each
// column are reduced northwards (fabin + partial -> fabout) and land on the edge PE (j, 0), which stands for the link
// back to MemoryX and stores dW[o][f] for its k features. fp32.
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Kernels.Proofs;

namespace Wafer.Kernels.WeightStreaming;

/// <summary>fp16: X and dY in fp16, the partial sums accumulated in fp32 by @fmachs over X's rows (stride n).</summary>
public sealed class WeightStreamWeightGradient(bool fp16 = false) : IFabricDemo
{
    public const int StartTask = 10;
    private const int ColumnBase = 2;               // the column chains north alternate colors 2 and 3

    public string Name => fp16 ? "wsmm-dw-fp16" : "wsmm-dw";
    public string Description => "weight-streaming weight gradient dW = X^T dY: dY multicast west along rows, partial sums reduced north to the edge"
        + (fp16 ? "; fp16 X and dY, fp32 accumulation (@fmachs)" : "");
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block | SizeOptions.Outputs;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var (cc, r, n, k, dOut) = WeightStreamLayout.Shape(Name, wafer, size);
        var layout = new FabricLayout(cc, r + 1);
        for (var x = 0; x < cc; x++) Chains.ColumnChain(layout, x, r + 1, ColumnBase);
        WeightStreamLayout.GradientRowsWest(layout, cc, r);
        var codes = new Dictionary<(int, int, bool), PeCode>();
        layout.SetCode((x, y) =>
        {
            var key = (y == 0 ? 0 : y == r ? 2 : 1, y & 1, x == cc - 1);
            if (!codes.TryGetValue(key, out var code)) codes[key] = code = y == 0 ? Edge(k, dOut) : Worker(key.Item1 == 2, y, x == cc - 1, cc > 1, k, n, dOut, fp16);
            return code;
        });
        var sim = new Simulator(wafer, layout, options);

        var xBlock = new float[k * n];
        var dy = new float[dOut * n];
        for (var y = 1; y <= r; y++)
        {
            WeightStreamLayout.ActivationBlock(size.Seed, cc, y, dy);
            if (fp16) sim.Host.MemcpyH2DF16("dY", cc - 1, y, dy); else sim.Host.MemcpyH2D("dY", cc - 1, y, dy);
            for (var x = 0; x < cc; x++)
            {
                WeightStreamLayout.ActivationBlock(size.Seed, x, y, xBlock);
                if (fp16) sim.Host.MemcpyH2DF16("X", x, y, xBlock); else sim.Host.MemcpyH2D("X", x, y, xBlock);
            }
        }
        sim.Host.EndBatch();
        sim.Launch(StartTask);
        sim.Run();
        var got = sim.Host.MemcpyD2H("dW", 0, 0, cc, 1, dOut * k);

        // Reference: dW[f, o] = sum over rows and tokens of X[t, f] dY[t, o], in double.
        double maxErr = 0, tol = 0;
        var reference = new double[dOut * k];
        var magnitude = new double[dOut * k];
        for (var x = 0; x < cc; x++)
        {
            Array.Clear(reference);
            Array.Clear(magnitude);
            for (var y = 1; y <= r; y++)
            {
                WeightStreamLayout.ActivationBlock(size.Seed, x, y, xBlock);
                WeightStreamLayout.ActivationBlock(size.Seed, cc, y, dy);
                if (fp16)
                {
                    for (var i = 0; i < xBlock.Length; i++) xBlock[i] = (float)(Half)xBlock[i];
                    for (var i = 0; i < dy.Length; i++) dy[i] = (float)(Half)dy[i];
                }
                for (var o = 0; o < dOut; o++)
                    for (var f = 0; f < k; f++)
                        for (var t = 0; t < n; t++)
                        {
                            var p = (double)xBlock[f * n + t] * dy[o * n + t];
                            reference[o * k + f] += p;
                            magnitude[o * k + f] += Math.Abs(p);
                        }
            }
            for (var i = 0; i < dOut * k; i++)
            {
                maxErr = Math.Max(maxErr, Math.Abs(got[x * dOut * k + i] - reference[i]));
                tol = Math.Max(tol, 4 * float.Epsilon + 2e-6 * magnitude[i]);
            }
        }
        var parameters = new Dictionary<string, object> { ["columns"] = cc, ["workerRows"] = r, ["tokensPerPe"] = n, ["featuresPerPe"] = k, ["outputs"] = dOut };
        var extra = new Dictionary<string, double> { ["macs"] = (double)n * r * k * cc * dOut };
        return new DemoResult(sim, maxErr, tol, parameters, extra, WeightStreamModel.WeightGradientCycles(wafer, cc, r, n, k, dOut, fp16));
    }

    /// <summary>The edge PE: per output, takes the column's k reduced partials into dW[o].</summary>
    private static PeCode Edge(int k, int dOut)
    {
        var cIn = Chains.ColumnColor(1, ColumnBase);
        var code = new PeCode("wsmm-dw-edge").SymbolF32("dW", dOut * k).InputQueue(Chains.ColumnInQueue, cIn);
        var dw = code.AddressOf("dW");
        code.LocalTask(StartTask, ctx => ctx.Fmovs(Dsd.Mem1D(dw, dOut * k), Dsd.FabIn(cIn, dOut * k, Chains.ColumnInQueue)));
        return code;
    }

    private static PeCode Worker(bool bottom, int y, bool last, bool chain, int k, int n, int dOut, bool fp16)
    {
        int cIn = Chains.ColumnColor(y + 1, ColumnBase), cOut = Chains.ColumnColor(y, ColumnBase);
        var code = new PeCode($"wsmm-dw-{(bottom ? "b" : "m")}{y & 1}{(last ? "l" : "")}{(fp16 ? "-h" : "")}");
        if (fp16) code.SymbolF16("X", k * n); else code.SymbolF32("X", k * n);
        code.SymbolF32("P", k).Symbol("o", 4).OutputQueue(Chains.ColumnOutQueue, cOut);
        if (!bottom) code.InputQueue(Chains.ColumnInQueue, cIn);
        WeightStreamLayout.DeclareGradient(code, last, chain, n, dOut, fp16);
        int xAddress = code.AddressOf("X"), pAddress = code.AddressOf("P"), oAddress = code.AddressOf("o");
        var gradAddress = WeightStreamLayout.GradientAddress(code, last);
        var p = Dsd.Mem1D(pAddress, k);
        // X[t, :] for token t: the k features of the PE, stride n apart in the feature-major block.
        var xBytes = fp16 ? 2 : 4;
        var rows = Enumerable.Range(0, n).Select(t => Dsd.Mem1D(xAddress + t * xBytes, k, n)).ToArray();
        Action<TaskContext>? loop = null;
        loop = ctx =>
        {
            var o = ctx.LoadI32(oAddress);
            if (o == dOut) return;
            ctx.StoreI32(oAddress, o + 1);
            var g = WeightStreamLayout.IssueGradientMove(ctx, last, chain, n, gradAddress, o, fp16);
            ctx.Fmovs(p, 0f);
            for (var t = 0; t < n; t++) // P += X[t, :] dY[t, o]
                if (fp16) ctx.Fmachs(p, p, rows[t], ScalarOperand.Mem(g + t * 2));
                else ctx.Fmacs(p, p, rows[t], Operand.Mem(g + t * 4));
            if (bottom) ctx.Fmovs(Dsd.FabOut(cOut, k, Chains.ColumnOutQueue), p);
            else ctx.Fadds(Dsd.FabOut(cOut, k, Chains.ColumnOutQueue), Dsd.FabIn(cIn, k, Chains.ColumnInQueue), p);
            ctx.Then(loop!);
        };
        code.LocalTask(StartTask, ctx =>
        {
            ctx.StoreI32(oAddress, 0);
            ctx.Then(loop);
        });
        return code;
    }
}

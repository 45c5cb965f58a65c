// The weight-streaming forward product Y = X W (docs/design.md §2.3) at cycle level. Activations stay on the wafer in the
// 2-D block layout: PE (j, i) of the worker rows holds the k features j*k .. j*k+k-1 of its n tokens (token block i),
// feature-major. Row 0 models the wafer edge: PE (j, 0) holds the k rows of W that column j needs and streams them
// south, output by output (k weights per output), multicast to every worker of the column. For each output o a worker
// receives its k weights, computes its n partial sums with k FMACs over its local activation vectors, and the partial
// sums of the row are reduced eastwards (fabin + partial -> fabout); the last column accumulates Y[:, o] for its n
// tokens. Reduction and compute are not overlapped in this version (one op stream per PE).
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.WeightStreaming;

/// <summary>overlapped: the row step of output o runs on a microthread (async) while the main thread computes o + 1
/// into the other of two partial-sum buffers (the production mapping of docs/design.md §2.3); otherwise one op stream.
/// fp16: activations and weights in fp16 (one weight per wavelet), partial sums accumulated in fp32 by @fmachs (fp16
/// multiply, fp32 add: 2 elements per cycle against the fp32 @fmacs' 1), Y in fp32.</summary>
public sealed class WeightStreamForward(bool overlapped = false, bool fp16 = false) : IFabricDemo
{
    public const int StartTask = 10;

    public string Name => (overlapped ? "wsmm-overlap" : "wsmm") + (fp16 ? "-fp16" : "");
    public string Description => (overlapped
        ? "weight-streaming forward Y = X W with the row reduction of output o overlapped with the compute of o + 1"
        : "weight-streaming forward Y = X W: activations resident, weights streamed down columns, partial sums reduced along rows")
        + (fp16 ? "; fp16 X and W, fp32 accumulation (@fmachs)" : "");
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block | SizeOptions.Outputs;

    /// <summary>Shape: width = feature columns Cc, height = worker rows R (the fabric is R + 1 tall: row 0 streams the
    /// weights), length = tokens per PE n, block = features per PE k, outputs = D_out.</summary>
    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var (cc, r, n, k, dOut) = WeightStreamLayout.Shape(Name, wafer, size);
        var layout = WeightStreamLayout.Build(cc, r);
        var codes = new Dictionary<(int, int), PeCode>();
        var injector = fp16 ? WeightStreamLayout.InjectorF16(dOut * k, StartTask) : WeightStreamLayout.Injector(dOut * k, StartTask);
        layout.SetCode((x, y) =>
        {
            if (y == 0) return injector;
            var key = (WeightStreamLayout.Role(x, cc), x & 1);
            if (!codes.TryGetValue(key, out var code)) codes[key] = code = Worker(key.Item1, x, k, n, dOut, overlapped, fp16);
            return code;
        });
        var sim = new Simulator(wafer, layout, options);

        // Inputs from (seed, position), so large runs never hold X or W whole on the host.
        var xBlock = new float[k * n];
        var wBlock = new float[dOut * k];
        for (var x = 0; x < cc; x++)
        {
            WeightStreamLayout.WeightBlock(size.Seed, x, wBlock);
            if (fp16) sim.Host.MemcpyH2DF16("W", x, 0, wBlock); else sim.Host.MemcpyH2D("W", x, 0, wBlock);
            for (var y = 1; y <= r; y++)
            {
                WeightStreamLayout.ActivationBlock(size.Seed, x, y, xBlock);
                if (fp16) sim.Host.MemcpyH2DF16("X", x, y, xBlock); else sim.Host.MemcpyH2D("X", x, y, xBlock);
            }
        }
        sim.Host.EndBatch();
        sim.Launch(StartTask);
        sim.Run();
        var got = sim.Host.MemcpyD2H("Y", cc - 1, 1, 1, r, dOut * n);
        // The reference takes the values the wafer holds: fp16-rounded inputs in the fp16 product.
        var (maxErr, tol) = WeightStreamLayout.Check(got, size.Seed, cc, r, n, k, dOut, x =>
        {
            var w = new float[dOut * k];
            WeightStreamLayout.WeightBlock(size.Seed, x, w);
            if (fp16) for (var i = 0; i < w.Length; i++) w[i] = (float)(Half)w[i];
            return w;
        }, xBlock, roundToFp16: fp16);
        var parameters = new Dictionary<string, object>
        {
            ["columns"] = cc, ["workerRows"] = r, ["tokensPerPe"] = n, ["featuresPerPe"] = k, ["outputs"] = dOut,
            ["tokens"] = (long)n * r, ["inputFeatures"] = (long)k * cc,
        };
        var extra = new Dictionary<string, double> { ["macs"] = (double)n * r * k * cc * dOut };
        var macs = fp16 ? WeightStreamModel.MixedMacCycles(wafer, k, n) : (long?)null;
        return new DemoResult(sim, maxErr, tol, parameters, extra,
            overlapped ? WeightStreamModel.ForwardOverlappedCycles(wafer, cc, r, n, k, dOut, macs) : WeightStreamModel.ForwardCycles(wafer, cc, r, n, k, dOut, macs));
    }

    private static PeCode Worker(int role, int x, int k, int n, int dOut, bool overlapped, bool fp16)
    {
        var code = WeightStreamLayout.WorkerCode($"wsmm-{role}-{x & 1}{(overlapped ? "-o" : "")}{(fp16 ? "-h" : "")}", role, x, k, n, dOut, fp16);
        if (overlapped)
        {
            if (fp16)
            {
                // The second partial-sum buffer 4 banks from X too (same residue mod 16 bytes as P).
                var end = role is 2 or 3 ? code.AddressOf("Y") + 4 * dOut * n : code.AddressOf("o") + 4;
                var aligned = (end + 3) & ~3;
                code.Symbol("pad2", (code.AddressOf("P") % 16 - aligned % 16 + 16) % 16);
            }
            code.SymbolF32("P2", n);
        }
        int xAddress = code.AddressOf("X"), pAddress = code.AddressOf("P"), wAddress = code.AddressOf("Wb"), oAddress = code.AddressOf("o");
        var yAddress = role is 2 or 3 ? code.AddressOf("Y") : -1;
        Dsd[] buffers = overlapped ? [Dsd.Mem1D(pAddress, n), Dsd.Mem1D(code.AddressOf("P2"), n)] : [Dsd.Mem1D(pAddress, n)];
        var wb = Dsd.Mem1D(wAddress, k);
        var xBytes = fp16 ? 2 : 4;
        var xs = Enumerable.Range(0, k).Select(f => Dsd.Mem1D(xAddress + f * n * xBytes, n)).ToArray();
        Action<TaskContext>? loop = null;
        loop = ctx =>
        {
            var o = ctx.LoadI32(oAddress);
            if (o == dOut) return;
            ctx.StoreI32(oAddress, o + 1);
            var weightsIn = Dsd.FabIn(WeightStreamLayout.WeightColor, k, WeightStreamLayout.WeightInQueue); // this output's k weights
            if (fp16) ctx.Fmovh(wb, weightsIn); else ctx.Fmovs(wb, weightsIn);
            var p = buffers[o % buffers.Length];
            ctx.Fmovs(p, 0f);
            for (var f = 0; f < k; f++) // P += X_f * w[f, o]
                if (fp16) ctx.Fmachs(p, p, xs[f], ScalarOperand.Mem(wAddress + f * 2));
                else ctx.Fmacs(p, p, xs[f], Operand.Mem(wAddress + f * 4));
            // Overlapped: the row step goes to a microthread; issuing the next one waits until this one is done, which
            // is also what makes reusing this buffer two outputs later safe.
            WeightStreamLayout.IssueRowStep(ctx, role, x, n, p, yAddress + o * n * 4, overlapped && role != 3);
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

// The weight-streaming forward product Y = X W (DESIGN.md §2.3) at cycle level. Activations stay on the wafer in the
// 2-D block layout: PE (j, i) of the worker rows holds the k features j*k .. j*k+k-1 of its n tokens (token block i),
// feature-major. Row 0 models the wafer edge: PE (j, 0) holds the k rows of W that column j needs and streams them
// south, output by output (k weights per output), multicast to every worker of the column. For each output o a worker
// receives its k weights, computes its n partial sums with k FMACs over its local activation vectors, and the partial
// sums of the row are reduced eastwards (fabin + partial -> fabout); the last column accumulates Y[:, o] for its n
// tokens. Reduction and compute are not overlapped in this version (one op stream per PE).
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;
using Wafer.Kernels.Proofs;

namespace Wafer.Kernels.WeightStreaming;

public sealed class WeightStreamForward : IFabricDemo
{
    public const int StartTask = 10;
    private const int RowBase = 0;       // row chains alternate colors 0 and 1
    private const int WeightColor = 4;   // the column multicast of weights
    private const int WeightInQueue = 1; // 6 deep on WSE-2
    private const int WeightOutQueue = 4;

    public string Name => "wsmm";
    public string Description => "weight-streaming forward Y = X W: activations resident, weights streamed down columns, partial sums reduced along rows";

    /// <summary>Shape: width = feature columns Cc, height = worker rows R (the fabric is R + 1 tall: row 0 streams the
    /// weights), length = tokens per PE n, block = features per PE k, outputs = D_out.</summary>
    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var cc = size.Width > 0 ? size.Width : Math.Min(4, wafer.WidthPes);
        var r = size.Height > 0 ? size.Height : Math.Min(3, wafer.HeightPes - 1);
        var n = size.Length > 0 ? size.Length : 8;
        var k = size.Block > 0 ? size.Block : 4;
        var dOut = size.Outputs > 0 ? size.Outputs : 16;
        if (r + 1 > wafer.HeightPes || cc > wafer.WidthPes)
            throw new WaferInputException($"{Name}: {cc} x {r + 1} PEs (R worker rows + the weight row) do not fit the {wafer.WidthPes} x {wafer.HeightPes} wafer");
        var layout = new FabricLayout(cc, r + 1);
        for (var x = 0; x < cc; x++) ColumnMulticast(layout, x, r + 1);
        for (var y = 1; y <= r; y++) Chains.RowChain(layout, y, cc, RowBase);
        var codes = new Dictionary<(int, int), PeCode>();
        var injector = Injector(k, dOut);
        layout.SetCode((x, y) =>
        {
            if (y == 0) return injector;
            var key = (cc == 1 ? 3 : x == 0 ? 0 : x == cc - 1 ? 2 : 1, x & 1);
            if (!codes.TryGetValue(key, out var code)) codes[key] = code = Worker(key.Item1, x, k, n, dOut);
            return code;
        });
        var sim = new Simulator(wafer, layout, options);

        // Inputs from (seed, position), so large runs never hold X or W whole on the host.
        var xBlock = new float[k * n];
        var wBlock = new float[dOut * k];
        for (var x = 0; x < cc; x++)
        {
            WeightBlock(size.Seed, x, wBlock);
            sim.Host.MemcpyH2D("W", x, 0, wBlock);
            for (var y = 1; y <= r; y++)
            {
                ActivationBlock(size.Seed, x, y, xBlock);
                sim.Host.MemcpyH2D("X", x, y, xBlock);
            }
        }
        sim.Host.EndBatch();
        sim.Launch(StartTask);
        sim.Run();
        var got = sim.Host.MemcpyD2H("Y", cc - 1, 1, 1, r, dOut * n);

        // Reference in double: Y[t, o] = sum over columns and features of X[t, f] W[f, o].
        double maxErr = 0, tol = 0;
        var reference = new double[dOut * n];
        var magnitude = new double[dOut * n];
        for (var y = 1; y <= r; y++)
        {
            Array.Clear(reference);
            Array.Clear(magnitude);
            for (var x = 0; x < cc; x++)
            {
                WeightBlock(size.Seed, x, wBlock);
                ActivationBlock(size.Seed, x, y, xBlock);
                for (var o = 0; o < dOut; o++)
                    for (var f = 0; f < k; f++)
                        for (var t = 0; t < n; t++)
                        {
                            var p = (double)xBlock[f * n + t] * wBlock[o * k + f];
                            reference[o * n + t] += p;
                            magnitude[o * n + t] += Math.Abs(p);
                        }
            }
            for (var i = 0; i < dOut * n; i++)
            {
                maxErr = Math.Max(maxErr, Math.Abs(got[(y - 1) * dOut * n + i] - reference[i]));
                tol = Math.Max(tol, 4 * float.Epsilon + 2e-6 * magnitude[i]);
            }
        }
        var parameters = new Dictionary<string, object>
        {
            ["columns"] = cc, ["workerRows"] = r, ["tokensPerPe"] = n, ["featuresPerPe"] = k, ["outputs"] = dOut,
            ["tokens"] = (long)n * r, ["inputFeatures"] = (long)k * cc,
        };
        var extra = new Dictionary<string, double> { ["macs"] = (double)n * r * k * cc * dOut };
        return new DemoResult(sim, maxErr, tol, parameters, extra, WeightStreamModel.ForwardCycles(wafer, cc, r, n, k, dOut));
    }

    /// <summary>Column x: PE (x, 0) sends south; workers deliver to their ramp and pass it on; the last one only delivers.</summary>
    private static void ColumnMulticast(FabricLayout layout, int x, int height)
    {
        if (height < 2) return;
        layout.Route(x, 0, WeightColor, Ports.Ramp, Ports.South);
        for (var y = 1; y < height - 1; y++) layout.Route(x, y, WeightColor, Ports.North, Ports.Ramp | Ports.South);
        layout.Route(x, height - 1, WeightColor, Ports.North, Ports.Ramp);
    }

    private static PeCode Injector(int k, int dOut) =>
        new PeCode("wsmm-edge").SymbolF32("W", dOut * k).OutputQueue(WeightOutQueue, WeightColor)
            .LocalTask(StartTask, ctx => ctx.Fmovs(Dsd.FabOut(WeightColor, dOut * k, WeightOutQueue), ctx.Mem("W")));

    /// <summary>role: 0 first column (starts each row chain), 1 middle, 2 last column (holds Y), 3 alone (one column).</summary>
    private static PeCode Worker(int role, int x, int k, int n, int dOut)
    {
        var code = new PeCode($"wsmm-{role}-{x & 1}").SymbolF32("X", k * n).SymbolF32("P", n).SymbolF32("Wb", k).Symbol("o", 4)
            .InputQueue(WeightInQueue, WeightColor);
        if (role is 2 or 3) code.SymbolF32("Y", dOut * n);
        int cIn = Chains.RowColor(x - 1, RowBase), cOut = Chains.RowColor(x, RowBase);
        if (role is 1 or 2) code.InputQueue(Chains.RowInQueue, cIn);
        if (role is 0 or 1) code.OutputQueue(Chains.RowOutQueue, cOut);
        int xAddress = code.AddressOf("X"), pAddress = code.AddressOf("P"), wAddress = code.AddressOf("Wb"), oAddress = code.AddressOf("o");
        var yAddress = role is 2 or 3 ? code.AddressOf("Y") : -1;
        var p = Dsd.Mem1D(pAddress, n);
        var wb = Dsd.Mem1D(wAddress, k);
        var xs = Enumerable.Range(0, k).Select(f => Dsd.Mem1D(xAddress + f * n * 4, n)).ToArray();
        Action<TaskContext>? loop = null;
        loop = ctx =>
        {
            var o = ctx.LoadI32(oAddress);
            if (o == dOut) return;
            ctx.StoreI32(oAddress, o + 1);
            ctx.Fmovs(wb, Dsd.FabIn(WeightColor, k, WeightInQueue));         // this output's k weights
            ctx.Fmovs(p, 0f);
            for (var f = 0; f < k; f++) ctx.Fmacs(p, p, xs[f], Operand.Mem(wAddress + f * 4)); // P += X_f * w[f, o]
            switch (role)
            {
                case 0: ctx.Fmovs(Dsd.FabOut(cOut, n, Chains.RowOutQueue), p); break;
                case 1: ctx.Fadds(Dsd.FabOut(cOut, n, Chains.RowOutQueue), Dsd.FabIn(cIn, n, Chains.RowInQueue), p); break;
                case 2: ctx.Fadds(Dsd.Mem1D(yAddress + o * n * 4, n), Dsd.FabIn(cIn, n, Chains.RowInQueue), p); break;
                case 3: ctx.Fmovs(Dsd.Mem1D(yAddress + o * n * 4, n), p); break;
            }
            ctx.Then(loop!);
        };
        code.LocalTask(StartTask, ctx =>
        {
            ctx.StoreI32(oAddress, 0);
            ctx.Then(loop);
        });
        return code;
    }

    private static void WeightBlock(long seed, int x, float[] w)
    {
        var rng = new Random(Seeds.For(seed, x, -1));
        for (var i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1);
    }

    private static void ActivationBlock(long seed, int x, int y, float[] a)
    {
        var rng = new Random(Seeds.For(seed, x, y));
        for (var i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
    }
}

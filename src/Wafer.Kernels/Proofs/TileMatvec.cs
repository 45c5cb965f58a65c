// Every PE multiplies its own N x N matrix by its own vector, with no fabric traffic: the SDK's single-tile-matvec
// benchmark (CSLX benchmarks/single-tile-matvec, docs/sources.md §6), which reports the wafer's compute and memory rates.
// y = A x as N @fmacs over the columns of A (column-major), one scalar loop iteration per column.
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Proofs;

public sealed class TileMatvec : IFabricDemo
{
    public const int StartTask = 10;
    public string Name => "matvec";
    public string Description => "single-tile matvec on every PE (no fabric traffic): the compute-bound benchmark";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = size.Width > 0 ? size.Width : wafer.WidthPes;
        var h = size.Height > 0 ? size.Height : wafer.HeightPes;
        var n = size.Length > 0 ? size.Length : 32;
        var code = new PeCode("matvec").SymbolF32("A", n * n).SymbolF32("x", n).SymbolF32("y", n).Symbol("j", 4);
        int aAddress = code.AddressOf("A"), xAddress = code.AddressOf("x"), jAddress = code.AddressOf("j");
        var y = Dsd.Mem1D(code.AddressOf("y"), n);
        Action<TaskContext>? column = null;
        column = ctx =>
        {
            var j = ctx.LoadI32(jAddress);
            if (j == n) return;
            ctx.StoreI32(jAddress, j + 1);
            ctx.Fmacs(y, y, Dsd.Mem1D(aAddress + j * n * 4, n), Operand.Mem(xAddress + j * 4));
            ctx.Then(column!);
        };
        code.LocalTask(StartTask, ctx =>
        {
            ctx.StoreI32(jAddress, 0);
            ctx.Fmovs(y, 0f);
            ctx.Then(column);
        });
        var layout = new FabricLayout(w, h);
        layout.SetCode((_, _) => code);
        var sim = new Simulator(wafer, layout, options);

        // Every PE gets the same seeded matrix and vector (the SDK benchmark also broadcasts one tile).
        var rng = new Random(Seeds.For(size.Seed, 0, 0));
        var a = new float[n * n];
        var x = new float[n];
        for (var i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        for (var i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        for (var py = 0; py < h; py++)
            for (var px = 0; px < w; px++)
            {
                sim.Host.MemcpyH2D("A", px, py, a);
                sim.Host.MemcpyH2D("x", px, py, x);
            }
        sim.Host.EndBatch();
        sim.Launch(StartTask);
        sim.Run();

        // Check the four corners and the centre against a double-precision reference.
        var reference = new double[n];
        double magnitude = 0;
        for (var c = 0; c < n; c++)
            for (var r = 0; r < n; r++) { reference[r] += (double)a[c * n + r] * x[c]; magnitude = Math.Max(magnitude, Math.Abs(a[c * n + r] * x[c])); }
        double maxErr = 0;
        foreach (var (px, py) in new[] { (0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (w / 2, h / 2) })
        {
            var got = sim.Host.MemcpyD2H("y", px, py, 1, 1, n);
            for (var r = 0; r < n; r++) maxErr = Math.Max(maxErr, Math.Abs(got[r] - reference[r]));
        }
        var seconds = sim.Cycle / wafer.ClockHz;
        var flops = 2.0 * n * n * w * h;
        // Bytes the datapath moves per FMAC element: read A and y, write y (4 B each), as the SDK benchmark counts.
        var bytes = 12.0 * n * n * w * h;
        var parameters = new Dictionary<string, object> { ["width"] = w, ["height"] = h, ["n"] = n };
        var extra = new Dictionary<string, double> { ["flopsPerSecond"] = flops / seconds, ["memoryBytesPerSecond"] = bytes / seconds };
        return new DemoResult(sim, maxErr, 4e-6 * n * magnitude, parameters, extra, CycleModels.Matvec(wafer, n));
    }
}

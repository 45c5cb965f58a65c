// 2-D broadcast: PE (0, 0) multicasts its vector to every PE of the W x H grid on one color (row 0 eastwards, every
// column southwards); receivers take it into memory with a fabin DSD. Host reference: every PE holds the root's vector.
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Kernels.Proofs;

namespace Wafer.Kernels.Collectives;

public sealed class Broadcast2D : IFabricDemo
{
    public const int StartTask = 10;
    private const int Color = 4;
    public string Name => "broadcast2d";
    public string Description => "2-D broadcast: PE (0,0) multicasts a vector along row 0 and down every column";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = size.Width > 0 ? size.Width : Math.Min(8, wafer.WidthPes);
        var h = size.Height > 0 ? size.Height : Math.Min(8, wafer.HeightPes);
        var n = size.Length > 0 ? size.Length : 32;
        var layout = new FabricLayout(w, h);
        Multicast.FromRowZeroEnd(layout, w, h, 0, Color);
        var root = new PeCode("root").SymbolF32("src", n).SymbolF32("dst", n)
            .LocalTask(StartTask, ctx => ctx.Fmovs(ctx.Mem("dst"), ctx.Mem("src")));
        if (w * h > 1)
        {
            root.OutputQueue(Multicast.OutQueue, Color);
            root.LocalTask(StartTask + 1, ctx => ctx.Fmovs(Dsd.FabOut(Color, n, Multicast.OutQueue), ctx.Mem("src")));
        }
        var leaf = new PeCode("leaf").SymbolF32("dst", n).InputQueue(Multicast.InQueue, Color)
            .LocalTask(StartTask, ctx => ctx.Fmovs(ctx.Mem("dst"), Dsd.FabIn(Color, n, Multicast.InQueue)));
        layout.SetCode((x, y) => x == 0 && y == 0 ? root : leaf);
        var sim = new Simulator(wafer, layout, options);
        var rng = new Random(Seeds.For(size.Seed, 0, 0));
        var data = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        sim.Host.MemcpyH2D("src", 0, 0, data);
        sim.Launch(StartTask);
        if (w * h > 1) sim.Launch(StartTask + 1, 0, 0, 1, 1);
        sim.Run();
        var got = sim.Host.MemcpyD2H("dst", 0, 0, w, h, n);
        double maxErr = 0;
        for (var p = 0; p < w * h; p++)
            for (var i = 0; i < n; i++) maxErr = Math.Max(maxErr, Math.Abs(got[p * n + i] - data[i]));
        var parameters = new Dictionary<string, object> { ["width"] = w, ["height"] = h, ["length"] = n };
        return new DemoResult(sim, maxErr, 0, parameters, new Dictionary<string, double>(), CollectiveModels.Broadcast2D(wafer, w, h, n));
    }
}

// The SDK's pipeline tutorial (pipeline-01..03) on a row: PE 0 streams a vector out of memory, each middle PE adds
// 1.0 on the fly (fabin -> @fadds -> fabout), and the last PE stores each wavelet with a data task that also does
// SinkCycles of scalar work. A slow sink shows where backpressure stalls the pipeline: the output queues fill,
// the routers' credits run out, and the upstream ops wait (their stall cycles are reported per PE).
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Proofs;

public sealed class Pipeline : IFabricDemo
{
    public const int StartTask = 10;
    public string Name => "pipeline";
    public string Description => "row pipeline: memory -> fabout -> (fabin + 1 -> fabout)* -> slow data-task sink; shows backpressure stalls";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Length | SizeOptions.SinkCycles;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = size.Width > 0 ? size.Width : Math.Min(4, wafer.WidthPes);
        var n = size.Length > 0 ? size.Length : 64;
        var sinkCycles = size.SinkCycles >= 0 ? size.SinkCycles : 4;
        if (w < 2) throw new WaferInputException($"{Name}: needs a width of at least 2 PEs (got {w})");
        var layout = new FabricLayout(w, 1);
        Chains.RowChain(layout, 0, w, 0);

        var src = new PeCode("source").SymbolF32("src", n).OutputQueue(Chains.RowOutQueue, Chains.RowColor(0, 0))
            .LocalTask(StartTask, ctx => ctx.Fmovs(Dsd.FabOut(Chains.RowColor(0, 0), n, Chains.RowOutQueue), ctx.Mem("src")));
        layout.SetCode(0, 0, src);
        for (var x = 1; x < w - 1; x++)
        {
            int cIn = Chains.RowColor(x - 1, 0), cOut = Chains.RowColor(x, 0);
            layout.SetCode(x, 0, new PeCode($"adder-{x}").InputQueue(Chains.RowInQueue, cIn).OutputQueue(Chains.RowOutQueue, cOut)
                .LocalTask(StartTask, ctx => ctx.Fadds(Dsd.FabOut(cOut, n, Chains.RowOutQueue), Dsd.FabIn(cIn, n, Chains.RowInQueue), 1f)));
        }
        var sinkColor = Chains.RowColor(w - 2, 0);
        layout.SetCode(w - 1, 0, new PeCode("sink").SymbolF32("dst", n).Symbol("count", 4).InputQueue(Chains.RowInQueue, sinkColor)
            .DataTask(sinkColor, ctx =>
            {
                var countAddress = ctx.Address("count");
                var i = ctx.LoadI32(countAddress);
                ctx.StoreF32(ctx.Address("dst") + 4 * (i % n), ctx.ArgF32);
                ctx.StoreI32(countAddress, i + 1);
                ctx.Scalar(sinkCycles);
            }));

        var sim = new Simulator(wafer, layout, options);
        var input = Enumerable.Range(0, n).Select(i => (float)Math.Sin(i)).ToArray();
        sim.Host.MemcpyH2D("src", 0, 0, 1, 1, input, n);
        sim.Launch(StartTask, 0, 0, w - 1, 1);
        sim.Run();
        var output = sim.Host.MemcpyD2H("dst", w - 1, 0, 1, 1, n);
        double maxErr = 0;
        for (var i = 0; i < n; i++) maxErr = Math.Max(maxErr, Math.Abs(output[i] - (input[i] + (float)(w - 2))));

        var stats = Wafer.Fabric.Stats.RunStats.Collect(sim);
        var extra = new Dictionary<string, double>();
        for (var x = 0; x < w; x++) extra[$"stallCyclesPe{x}"] = stats.PeStallCycles[x];
        var parameters = new Dictionary<string, object> { ["width"] = w, ["length"] = n, ["sinkCycles"] = sinkCycles };
        // The closed form holds when the sink is the bottleneck (its task takes longer than a link cycle).
        long? model = sinkCycles + wafer.TaskStartCycles > 1 ? CycleModels.PipelineSinkBound(wafer, w, n, sinkCycles) : null;
        return new DemoResult(sim, maxErr, 1e-5 * (w + 1), parameters, extra, model);
    }
}

using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;
using Wafer.Fabric.Stats;

namespace Wafer.Fabric.Tests;

public class BackpressureTests
{
    /// <summary>A sender streaming to a PE whose data task is blocked: queues fill to their depths, nothing is lost, and the fabric deadlocks.</summary>
    private static Simulator BlockedReceiver(int n)
    {
        var layout = new FabricLayout(2, 1);
        layout.Route(0, 0, 0, Ports.Ramp, Ports.East);
        layout.Route(1, 0, 0, Ports.West, Ports.Ramp);
        layout.SetCode(0, 0, new PeCode("sender").SymbolF32("src", n).OutputQueue(2, 0)
            .LocalTask(10, ctx => ctx.Fmovs(Dsd.FabOut(0, n, 2), ctx.Mem("src"))));
        layout.SetCode(1, 0, new PeCode("blocked").InputQueue(1, 0).DataTask(0, _ => { }).BlockAtStart(0));
        var sim = new Simulator(TestPrograms.Wafer(2, 1), layout, new SimulatorOptions { Threads = 1 });
        sim.Launch(10, 0, 0, 1, 1);
        return sim;
    }

    [Fact]
    public void Credits_FillEveryQueueToItsDepthAndNoFurther()
    {
        var sim = BlockedReceiver(40);
        sim.RunUntil(45); // traffic stops near cycle 20; the deadlock window (50 cycles) has not run out yet
        var cfg = sim.Config;
        Assert.Equal(cfg.InputQueueDepthWords[1], sim.InputQueued(1, 0, 1));
        Assert.Equal(cfg.RouterBufferDepthWavelets, sim.RouterBuffered(1, 0, 0, Direction.West));
        Assert.Equal(cfg.OutputQueueDepthWords[2], sim.RouterBuffered(0, 0, 0, Direction.Ramp));
    }

    [Fact]
    public void Credits_ReceiverThatNeverConsumes_IsReportedAsDeadlock()
    {
        var sim = BlockedReceiver(40);
        var e = Assert.Throws<DeadlockException>(() => sim.Run());
        Assert.Contains("PE (0,0)", e.Message);
        Assert.Contains("PE (1,0)", e.Message);
        Assert.Contains("input queue 1", e.Message);
    }

    [Fact]
    public void SlowSink_StallsUpstream_DeliversEverythingInOrder()
    {
        const int n = 30, sinkCycles = 6;
        var sim = TestPrograms.Row(3, n, sinkTaskCycles: sinkCycles);
        var cycles = sim.Run();
        var dst = sim.Host.MemcpyD2H("dst", 2, 0, 1, 1, n);
        Assert.Equal(Enumerable.Range(1, n).Select(i => (float)i), dst);
        var stats = RunStats.Collect(sim);
        Assert.True(stats.PeStallCycles[0] > n, $"sender stalled only {stats.PeStallCycles[0]} op-cycles");
        // Each wavelet costs the sink a task start (2) plus its scalar work: the sink sets the pace.
        Assert.True(cycles >= n * (2 + sinkCycles), $"{cycles} cycles");
    }

    [Fact]
    public void FastSink_DoesNotStallSender()
    {
        var sim = TestPrograms.Row(3, 30);
        sim.Run();
        Assert.Equal(0, RunStats.Collect(sim).PeStallCycles[0]);
    }
}

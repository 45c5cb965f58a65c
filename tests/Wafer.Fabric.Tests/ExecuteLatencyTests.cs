using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Fabric.Tests;

/// <summary>The execute register (ExecuteLatencyCycles): a fabric op's result enters its output queue a cycle after the op
/// takes the element, which delays each wavelet by one cycle per compute engine it passes through without slowing the
/// stream, even through 2-deep output queues (the register holds no queue slot).</summary>
public class ExecuteLatencyTests
{
    /// <summary>PE 0 sends n values east; PEs 1 .. w-2 each add 1 (fabin -> fabout, like a chain reduce's hop); PE w-1
    /// stores them. Colors alternate 0 / 1 along the row; every PE uses output queue `outQueue` and input queue `inQueue`.</summary>
    private static (long Cycles, float[] Got) Relay(int n, int execute, int w = 3, int outQueue = 0, int inQueue = 0, int lateCycles = 0)
    {
        var layout = new FabricLayout(w, 1);
        var src = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        layout.SetCode(0, 0, new PeCode("send").SymbolF32("src", src).OutputQueue(outQueue, 0)
            .LocalTask(10, c => c.Fmovs(Dsd.FabOut(0, n, outQueue), c.Mem("src"))));
        layout.Route(0, 0, 0, Ports.Ramp, Ports.East);
        for (var x = 1; x < w - 1; x++)
        {
            int cin = (x - 1) & 1, cout = x & 1;
            layout.SetCode(x, 0, new PeCode("add").InputQueue(inQueue, cin).OutputQueue(outQueue, cout)
                .LocalTask(10, c => { if (lateCycles > 0) c.Scalar(lateCycles * x); c.Fadds(Dsd.FabOut(cout, n, outQueue), Dsd.FabIn(cin, n, inQueue), 1f); }));
            layout.Route(x, 0, cin, Ports.West, Ports.Ramp);
            layout.Route(x, 0, cout, Ports.Ramp, Ports.East);
        }
        var last = (w - 2) & 1;
        layout.SetCode(w - 1, 0, new PeCode("store").SymbolF32("dst", n).InputQueue(inQueue, last)
            .LocalTask(10, c => c.Fmovs(c.Mem("dst"), Dsd.FabIn(last, n, inQueue))));
        layout.Route(w - 1, 0, last, Ports.West, Ports.Ramp);
        var wafer = TestPrograms.Wafer(w, 1) with { ExecuteLatencyCycles = execute };
        var sim = new Simulator(wafer, layout, new SimulatorOptions { Threads = 1 });
        sim.Launch(10);
        var cycles = sim.Run();
        return (cycles, sim.Host.MemcpyD2H("dst", w - 1, 0, 1, 1, n));
    }

    [Theory]
    [InlineData(1, 3, 0, 0)]
    [InlineData(64, 3, 0, 0)]
    [InlineData(64, 6, 4, 3)]   // the layer program's column sum: output queue 4 (2 deep), input queue 3 (4 deep)
    [InlineData(64, 6, 2, 1)]
    public void EachEngineOnThePath_AddsOneCycle_AndTheStreamKeepsItsPace(int n, int w, int outQueue, int inQueue)
    {
        var (without, gotWithout) = Relay(n, 0, w, outQueue, inQueue);
        var (with, got) = Relay(n, 1, w, outQueue, inQueue);
        Assert.Equal(Enumerable.Range(0, n).Select(i => i + w - 2f), got);
        Assert.Equal(gotWithout, got);
        // Every engine but the last puts results on the fabric (the sender and the adders): a cycle each, whatever n is.
        Assert.Equal(w - 1, with - without);
    }

    /// <summary>Each adder starts later than the one before, so the chain backs up into its queues first (as the layer
    /// program's column sums do): the backed-up stream still moves one value a cycle once it flows (a register that
    /// slowed it would cost about n / 3 cycles here), and latency queued behind a late start is partly hidden.</summary>
    [Theory]
    [InlineData(64, 6, 4, 3, 100)]
    [InlineData(64, 6, 2, 1, 50)]
    public void ABackedUpChain_KeepsItsPace(int n, int w, int outQueue, int inQueue, int lateCycles)
    {
        var (without, gotWithout) = Relay(n, 0, w, outQueue, inQueue, lateCycles);
        var (with, got) = Relay(n, 1, w, outQueue, inQueue, lateCycles);
        Assert.Equal(gotWithout, got);
        Assert.InRange(with - without, 1, w - 1);
    }

    [Fact]
    public void ExecuteLatency_IsZeroOrOne()
    {
        Assert.Empty(WaferPresets.Cs2.Validate());
        Assert.Equal(1, WaferPresets.Cs2.ExecuteLatencyCycles);
        var errors = (WaferPresets.Tiny with { ExecuteLatencyCycles = 2 }).Validate();
        Assert.Contains(errors, e => e.Contains("ExecuteLatencyCycles must be 0 or 1"));
    }
}

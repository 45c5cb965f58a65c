using Wafer.Fabric.Routing;

namespace Wafer.Fabric.Tests;

/// <summary>Early/on-time pairs: a wavelet is absent one cycle before its latency has passed and present exactly at it.</summary>
public class LinkTimingTests
{
    // Sender: task starts at 0, its op issues at 2 (task start 2 cycles) and moves element 0 at 3 (DSD startup 1); the
    // execute register puts it in the output queue at 4 (ExecuteLatencyCycles 1).
    private const int PushCycle = 4;

    [Theory]
    [InlineData(1, 2)]
    [InlineData(3, 2)]
    [InlineData(2, 5)]
    public void Hop_WaveletArrivesExactlyAtHopLatency(int hop, int ramp)
    {
        // The router takes the wavelet once it has crossed the ramp, then the link takes `hop` cycles.
        var arrive = PushCycle + ramp + hop;
        var sim = TestPrograms.Row(2, 1, hop, ramp);
        sim.RunUntil(arrive); // cycles 0 .. arrive-1 done
        Assert.Equal(0, sim.InputQueued(1, 0, 1));
        sim.RunUntil(arrive + 1); // cycle `arrive` done: the router took it and handed it to the ramp
        Assert.Equal(1, sim.InputQueued(1, 0, 1));
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(1, 4)]
    [InlineData(2, 1)]
    public void Ramp_WaveletReachesComputeEngineExactlyAtRampLatency(int hop, int ramp)
    {
        var consumed = PushCycle + ramp + hop + ramp;
        var sim = TestPrograms.Row(2, 1, hop, ramp);
        sim.RunUntil(consumed);
        Assert.Equal(1, sim.InputQueued(1, 0, 1)); // on the ramp, not yet visible to the fabin op
        sim.RunUntil(consumed + 1);
        Assert.Equal(0, sim.InputQueued(1, 0, 1)); // consumed in cycle `consumed`
        var dst = sim.Host.MemcpyD2H("dst", 1, 0, 1, 1, 1);
        Assert.Equal(1f, dst[0]);
    }

    [Fact]
    public void PassThrough_EachExtraHopCostsOneCycle()
    {
        var c3 = TestPrograms.Row(3, 4).Run();
        var c4 = TestPrograms.Row(4, 4).Run();
        var c9 = TestPrograms.Row(9, 4).Run();
        Assert.Equal(1, c4 - c3);
        Assert.Equal(6, c9 - c3);
    }

    [Fact]
    public void RouterBuffer_HoldsWaveletOnlyWhileOutputBlocked()
    {
        // A pass-through router forwards in the cycle a wavelet lands, so its buffer is empty at every cycle boundary.
        var sim = TestPrograms.Row(3, 8);
        for (var t = 1; t < 30; t++)
        {
            sim.RunUntil(t);
            Assert.Equal(0, sim.RouterBuffered(1, 0, 0, Direction.West));
        }
    }
}

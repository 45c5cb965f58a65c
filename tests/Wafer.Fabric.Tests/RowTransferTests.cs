using Wafer.Fabric.Stats;

namespace Wafer.Fabric.Tests;

public class RowTransferTests
{
    [Fact]
    public void Row_ValuesArriveInOrder()
    {
        var sim = TestPrograms.Row(5, 16);
        sim.Run();
        var dst = sim.Host.MemcpyD2H("dst", 4, 0, 1, 1, 16);
        Assert.Equal(Enumerable.Range(1, 16).Select(i => (float)i), dst);
    }

    [Fact]
    public void Row_Cycles_FollowClosedForm()
    {
        // Timeline of one wavelet: task start (2) + DSD startup (1) -> element moved at cycle 3, in the output queue at 4
        // (the execute register), visible to the router after the ramp (2) -> forwarded at 6, + 1 cycle per hop over
        // (w-1) hops, + ramp (2) to the sink's queue, consumed that cycle. n wavelets pipeline at one per cycle.
        foreach (var (w, n) in new[] { (2, 1), (5, 16), (9, 3) })
        {
            var sim = TestPrograms.Row(w, n);
            var cycles = sim.Run();
            var lastConsumed = 3 + 1 + 2 + (w - 1) + 2 + (n - 1);
            Assert.Equal(lastConsumed + 1, cycles);
        }
    }
}

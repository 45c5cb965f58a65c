// The engine's scheduling state (docs/architecture.md, "Hot state"): the per-band sets of PEs listed for a cycle and
// the timer wheel over flat arrays.
using Wafer.Fabric.Engine;
using Xunit;

namespace Wafer.Fabric.Tests;

public class ScheduleTests
{
    private static List<int> Drain(PeSet set)
    {
        var got = new List<int>();
        foreach (var pe in set.Drain()) got.Add(pe);
        return got;
    }

    [Fact]
    public void PeSet_HoldsEachPeOnce_AndDrainsInIndexOrder()
    {
        var set = new PeSet(5000);
        foreach (var pe in new[] { 4095, 3, 200, 3, 64, 4999, 0, 200 }) set.Add(pe);
        Assert.Equal(6, set.Count);
        Assert.True(set.Contains(64));
        Assert.False(set.Contains(65));
        Assert.Equal([0, 3, 64, 200, 4095, 4999], Drain(set));
        Assert.Equal(0, set.Count);
        Assert.False(set.Contains(64));
        Assert.Empty(Drain(set));
        Assert.True(set.Add(64));
        Assert.Equal([64], Drain(set));
    }

    private static Band NewBand(int pes) => new(0, 1, 0, pes, new TraceBuffer());

    [Fact]
    public void TimerWheel_PopsExactlyTheDuePes_AfterCancelsAndMoves()
    {
        var band = NewBand(10_000);
        var timers = band.Timers;
        timers.Add(5, 10, 0);
        timers.Add(7, 10, 0);
        timers.Add(9, 20, 0);
        timers.Cancel(7);
        timers.Add(9, 12, 0);          // a later decision replaces the earlier one
        timers.Add(8, 9_000, 0);       // past the wheel's horizon: the heap
        timers.Add(1, 9_500, 0);
        timers.Cancel(1);
        timers.Add(1, 9_500, 0);       // twice in the heap, due once
        Assert.True(timers.Any);
        long now = 0;
        foreach (var (due, pe) in new (long, int)[] { (10, 5), (12, 9), (9_000, 8), (9_500, 1) })
        {
            Assert.Equal(due, timers.NextDue(now));
            timers.PopDue(due, band);
            Assert.Equal([pe], Drain(band.Active));
            now = due;
        }
        Assert.False(timers.Any);
        Assert.Equal(long.MaxValue, timers.NextDue(9_500));
    }

    [Fact]
    public void TimerWheel_ManyPesInOneBucket_AllocateNothing()
    {
        var band = NewBand(4_096);
        var timers = band.Timers;
        for (var pe = 0; pe < 4_096; pe++) timers.Add(pe, 3, 0);   // warm up (JIT)
        timers.PopDue(3, band);
        band.Active.Clear();
        var popped = new int[8];
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var round = 1; round <= 8; round++)
        {
            for (var pe = 0; pe < 4_096; pe++) timers.Add(pe, 3 + 100L * round, 100L * round);
            for (var pe = 0; pe < 4_096; pe += 2) timers.Cancel(pe);
            timers.PopDue(3 + 100L * round, band);
            popped[round - 1] = band.Active.Count;
            band.Active.Clear();
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.All(popped, n => Assert.Equal(2_048, n));
        Assert.Equal(0, allocated);
    }
}

// A band of PEs stepped by one thread (a run of consecutive PE indices: rows, or part of a row when the rectangle is
// shorter than the thread count): its PEs listed for this cycle and the next, its timers, and its wake-ups for other
// bands. The band's PEs are numbered from 0 (its first PE) in these structures.
using Wafer.Fabric.Pe;

namespace Wafer.Fabric.Engine;

internal sealed class Band
{
    public readonly int Id;
    /// <summary>Index (in the simulator's PE array) of the band's PE 0.</summary>
    public readonly int FirstPe;
    // Sized for every PE of the band up front (the cycle loop allocates nothing).
    public PeSet Active;
    public PeSet Next;
    public readonly TimerWheel Timers;
    /// <summary>Wake-ups for PEs owned by other bands, by target band; drained by the owner after the cycle's barrier.</summary>
    public readonly List<int>[] CrossWakes;
    public readonly TraceBuffer Trace;
    /// <summary>The task context handed to task bodies run by this band's thread.</summary>
    public readonly TaskContext Context = new();
    public long Cycle;
    /// <summary>Link ring slots for the current cycle: the one arriving now and the one written for arrival t + L
    /// (computed once per cycle instead of a division per PE step).</summary>
    public int ArriveSlot, SendSlot;
    public long Moves;
    /// <summary>This band's PEs asleep with blocked wavelets in their routers (ProcessingElement.BlockedAsleep).</summary>
    public int BlockedSleepers;
    /// <summary>PE steps this band has run (over all runs): the engine's real work, for speed reports.</summary>
    public long Steps;
    public Exception? Error;
    public ProcessingElement? ErrorPe;

    public Band(int id, int bands, int firstPe, int endPe, TraceBuffer trace)
    {
        var pes = endPe - firstPe;
        Active = new PeSet(pes);
        Next = new PeSet(pes);
        Timers = new TimerWheel(pes);
        FirstPe = firstPe;
        Id = id;
        CrossWakes = Enumerable.Range(0, bands).Select(_ => new List<int>()).ToArray();
        Trace = trace;
    }

    /// <summary>Latest cycle up to which some compute engine of this band is busy (the run lasts at least that long).</summary>
    public long MaxBusyUntil;

    public void NoteBusyUntil(long cycle)
    {
        if (cycle > MaxBusyUntil) MaxBusyUntil = cycle;
    }

    /// <summary>Makes PE <paramref name="local"/> of band <paramref name="band"/> run in the next cycle (idempotent).</summary>
    public void Wake(int band, int local)
    {
        if (band == Id) Next.Add(local);
        else CrossWakes[band].Add(local);
    }

    /// <summary>Lists the band's PE <paramref name="local"/> for the cycle about to run (launch, timers).</summary>
    public void ScheduleAt(int local) => Active.Add(local);
}

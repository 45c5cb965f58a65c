// A band of PE rows stepped by one thread: its active list, its timers, and its wake-ups for other bands.
using Wafer.Fabric.Pe;

namespace Wafer.Fabric.Engine;

internal sealed class Band
{
    public readonly int Id;
    public readonly int RowStart, RowEnd;
    public List<ProcessingElement> Active = new(1024);
    public List<ProcessingElement> Next = new(1024);
    public readonly PriorityQueue<ProcessingElement, long> Timers = new();
    /// <summary>Wake-ups for PEs owned by other bands, by target band; drained by the owner after the cycle's barrier.</summary>
    public readonly List<ProcessingElement>[] CrossWakes;
    public readonly TraceBuffer Trace;
    public long Cycle;
    public long Moves;
    public Exception? Error;
    public ProcessingElement? ErrorPe;

    public Band(int id, int bands, int rowStart, int rowEnd, TraceBuffer trace)
    {
        Id = id;
        RowStart = rowStart;
        RowEnd = rowEnd;
        CrossWakes = Enumerable.Range(0, bands).Select(_ => new List<ProcessingElement>()).ToArray();
        Trace = trace;
    }

    /// <summary>Makes <paramref name="pe"/> run in the next cycle (idempotent).</summary>
    public void Wake(ProcessingElement pe)
    {
        if (pe.Band == Id) ScheduleNext(pe);
        else CrossWakes[pe.Band].Add(pe);
    }

    public void ScheduleNext(ProcessingElement pe)
    {
        var next = Cycle + 1;
        if (pe.ScheduledFor == next) return;
        pe.ScheduledFor = next;
        Next.Add(pe);
    }

    public void ScheduleAt(ProcessingElement pe, long cycle)
    {
        if (pe.ScheduledFor == cycle) return;
        if (pe.ScheduledFor > cycle) return; // already due earlier/now; it will reschedule itself
        pe.ScheduledFor = cycle;
        Active.Add(pe);
    }
}

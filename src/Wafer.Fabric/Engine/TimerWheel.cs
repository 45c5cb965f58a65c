// PEs sleeping until a known cycle (a long memory-only DSD op, a wavelet still crossing the ramp): a timing wheel
// with O(1) insert and pop, plus a heap for wake-ups beyond its horizon. A PE's latest decision wins: entries whose
// cycle no longer matches the PE's TimerAt are stale and dropped when met.
using Wafer.Fabric.Pe;

namespace Wafer.Fabric.Engine;

internal sealed class TimerWheel
{
    private const int Size = 1 << 12;
    private const int Mask = Size - 1;
    private readonly List<ProcessingElement>?[] _buckets = new List<ProcessingElement>?[Size];
    private readonly PriorityQueue<ProcessingElement, long> _far = new();
    private int _live;

    /// <summary>Whether any PE waits for a timed wake-up (work that is sure to happen).</summary>
    public bool Any => _live > 0;

    /// <summary>Wake <paramref name="pe"/> at cycle <paramref name="at"/> (&gt; <paramref name="now"/>).</summary>
    public void Add(ProcessingElement pe, long at, long now)
    {
        if (pe.TimerAt == at) return;
        pe.TimerAt = at;
        _live++;
        if (at - now < Size) (_buckets[at & Mask] ??= new List<ProcessingElement>(64)).Add(pe);
        else _far.Enqueue(pe, at);
    }

    /// <summary>The earliest cycle after <paramref name="now"/> with a due PE, or long.MaxValue.</summary>
    public long NextDue(long now)
    {
        if (_live == 0) return long.MaxValue;
        for (var c = now + 1; c < now + Size; c++)
        {
            var b = _buckets[c & Mask];
            if (b is null || b.Count == 0) continue;
            foreach (var pe in b) if (pe.TimerAt == c) return c;
        }
        while (_far.TryPeek(out var pe, out var at))
        {
            if (pe.TimerAt == at) return at;
            _far.Dequeue();
        }
        return long.MaxValue;
    }

    /// <summary>Moves every PE due at <paramref name="cycle"/> into <paramref name="band"/>'s active list.</summary>
    public void PopDue(long cycle, Band band)
    {
        if (_live == 0) return;
        while (_far.TryPeek(out var fp, out var fat) && fat - cycle < Size)
        {
            _far.Dequeue();
            if (fp.TimerAt == fat) (_buckets[fat & Mask] ??= new List<ProcessingElement>(64)).Add(fp);
        }
        var b = _buckets[cycle & Mask];
        if (b is null || b.Count == 0) return;
        foreach (var pe in b)
        {
            if (pe.TimerAt != cycle) continue;
            pe.TimerAt = -1;
            _live--;
            band.ScheduleAt(pe, cycle);
        }
        b.Clear();
    }

    /// <summary>A PE that runs drops its pending wake-up; its step decides anew.</summary>
    public void Cancel(ProcessingElement pe)
    {
        if (pe.TimerAt < 0) return;
        pe.TimerAt = -1;
        _live--;
    }
}

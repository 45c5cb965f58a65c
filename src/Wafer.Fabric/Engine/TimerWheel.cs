// A band's PEs sleeping until a known cycle (a long memory-only DSD op, a wavelet still crossing the ramp): a timing
// wheel of intrusive doubly linked lists over the band's PE indices (flat arrays sized once: adding, cancelling and
// popping allocate nothing), plus a heap for wake-ups beyond its horizon. A PE is on at most one list; its latest
// decision wins (heap entries whose cycle no longer matches are stale and dropped when met).
namespace Wafer.Fabric.Engine;

internal sealed class TimerWheel
{
    private const int Size = 1 << 12;
    private const int Mask = Size - 1;
    private const int None = -1;
    /// <summary>First PE of each bucket's list, and each PE's neighbours on its list (None at the ends).</summary>
    private readonly int[] _head = new int[Size];
    private readonly int[] _next, _prev;
    /// <summary>The cycle each PE is due at (-1: none) and whether it sits on a bucket's list (else in the heap).</summary>
    private readonly long[] _at;
    private readonly bool[] _inBucket;
    private readonly PriorityQueue<int, long> _far = new();
    private int _live;

    public TimerWheel(int pes)
    {
        Array.Fill(_head, None);
        _next = new int[pes];
        _prev = new int[pes];
        _at = new long[pes];
        _inBucket = new bool[pes];
        Array.Fill(_at, -1);
    }

    /// <summary>Whether any PE waits for a timed wake-up (work that is sure to happen).</summary>
    public bool Any => _live > 0;

    /// <summary>Wake the band's PE <paramref name="pe"/> at cycle <paramref name="at"/> (&gt; <paramref name="now"/>).</summary>
    public void Add(int pe, long at, long now)
    {
        if (_at[pe] == at) return;
        if (_at[pe] >= 0) Cancel(pe);
        _at[pe] = at;
        _live++;
        if (at - now < Size) Link(pe, at);
        else _far.Enqueue(pe, at);
    }

    /// <summary>A PE that runs drops its pending wake-up; its step decides anew.</summary>
    public void Cancel(int pe)
    {
        if (_at[pe] < 0) return;
        if (_inBucket[pe]) Unlink(pe);
        _at[pe] = -1;
        _live--;
    }

    /// <summary>The earliest cycle after <paramref name="now"/> with a due PE, or long.MaxValue.</summary>
    public long NextDue(long now)
    {
        if (_live == 0) return long.MaxValue;
        for (var c = now + 1; c < now + Size; c++)
            if (_head[c & Mask] != None) return c;
        while (_far.TryPeek(out var pe, out var at))
        {
            if (_at[pe] == at && !_inBucket[pe]) return at;
            _far.Dequeue();
        }
        return long.MaxValue;
    }

    /// <summary>Lists every PE due at <paramref name="cycle"/> in <paramref name="band"/>'s set for that cycle.</summary>
    public void PopDue(long cycle, Band band)
    {
        if (_live == 0) return;
        while (_far.TryPeek(out var fp, out var fat) && fat - cycle < Size)
        {
            _far.Dequeue();
            if (_at[fp] == fat && !_inBucket[fp]) Link(fp, fat);
        }
        var bucket = (int)(cycle & Mask);
        for (var pe = _head[bucket]; pe != None;)
        {
            var next = _next[pe];
            _inBucket[pe] = false;
            _at[pe] = -1;
            _live--;
            band.ScheduleAt(pe);
            pe = next;
        }
        _head[bucket] = None;
    }

    private void Link(int pe, long at)
    {
        var bucket = (int)(at & Mask);
        var first = _head[bucket];
        _next[pe] = first;
        _prev[pe] = None;
        if (first != None) _prev[first] = pe;
        _head[bucket] = pe;
        _inBucket[pe] = true;
    }

    private void Unlink(int pe)
    {
        int prev = _prev[pe], next = _next[pe];
        if (prev != None) _next[prev] = next;
        else _head[(int)(_at[pe] & Mask)] = next;
        if (next != None) _prev[next] = prev;
        _inBucket[pe] = false;
    }
}

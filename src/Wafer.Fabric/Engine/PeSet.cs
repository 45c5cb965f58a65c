// The PEs of one band listed for one cycle: a two-level bitmap over the band's PE indices (docs/architecture.md,
// "Hot state"). Adding is idempotent and allocates nothing; draining walks the PEs in memory order, so the band
// visits its PEs (and their neighbours' state) row by row instead of in the order wake-ups happened.
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Wafer.Fabric.Engine;

internal sealed class PeSet
{
    /// <summary>Bit i of word w: the band's PE 64 w + i is listed.</summary>
    private readonly ulong[] _words;
    /// <summary>Bit j of summary word s: word 64 s + j is not zero.</summary>
    private readonly ulong[] _summary;

    public PeSet(int pes)
    {
        _words = new ulong[Math.Max(1, (pes + 63) >> 6)];
        _summary = new ulong[(_words.Length + 63) >> 6];
    }

    /// <summary>PEs listed.</summary>
    public int Count { get; private set; }

    /// <summary>Lists the band's PE <paramref name="local"/>; false when it already was.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Add(int local)
    {
        var w = local >> 6;
        var bit = 1UL << local;
        var old = _words[w];
        if ((old & bit) != 0) return false;
        _words[w] = old | bit;
        if (old == 0) _summary[w >> 6] |= 1UL << w;
        Count++;
        return true;
    }

    public bool Contains(int local) => (_words[local >> 6] & (1UL << local)) != 0;

    public void Clear()
    {
        if (Count == 0) return;
        foreach (var _ in Drain()) { }
    }

    /// <summary>Enumerates the listed PEs in increasing order and empties the set as it goes. Nothing may be added
    /// to this set while it drains (the band adds to the next cycle's set).</summary>
    public Drainer Drain()
    {
        Count = 0;
        return new Drainer(this);
    }

    public ref struct Drainer
    {
        private readonly ulong[] _words, _summary;
        private int _s, _w, _current;
        private ulong _summaryBits, _bits;

        internal Drainer(PeSet set)
        {
            _words = set._words;
            _summary = set._summary;
            _s = -1;
            _w = -1;
        }

        public readonly Drainer GetEnumerator() => this;
        public readonly int Current => _current;

        public bool MoveNext()
        {
            while (_bits == 0)
            {
                while (_summaryBits == 0)
                {
                    if (++_s >= _summary.Length) return false;
                    _summaryBits = _summary[_s];
                    _summary[_s] = 0;
                }
                _w = (_s << 6) + BitOperations.TrailingZeroCount(_summaryBits);
                _summaryBits &= _summaryBits - 1;
                _bits = _words[_w];
                _words[_w] = 0;
            }
            _current = (_w << 6) + BitOperations.TrailingZeroCount(_bits);
            _bits &= _bits - 1;
            return true;
        }
    }
}

// A system's end of SwarmX: the executor's link to MemoryX (IMemoryXLink) when MemoryX is rank 0 of an MPI job. A
// fetch receives the segment from the parent (asking rank 0 for it first where rank 0 is the parent) and passes each
// piece on to the children as it arrives; a gradient term is added exactly (ExactSum) to the children's partial sums
// of the same term and the sum goes to the parent. A leaf sends its fp32 term as it is (4 bytes a value), an inner node
// its 128-bit sums (16). Every system makes the same calls in the same order (the same executor on the same shapes),
// so the messages of one segment meet at each node; a header that names another segment ends the job.
using Wafer.Core;
using Wafer.Gpt.MemoryX;

namespace Wafer.Swarm;

internal sealed class SystemLink : IMemoryXLink
{
    /// <summary>Kinds of gradient payload.</summary>
    public const int Floats = 0, Sums = 1;
    private const int PieceValues = Wire.PieceValues;

    private readonly Wire _wire;
    private readonly int _rank, _parent;
    private readonly int[] _children;
    private readonly float[] _term, _childFloats;
    private readonly Int128[] _sums, _childSums;
    private int _chunkedSegment = -1;
    private bool _chunkedLast;

    public ParameterLayout Layout { get; }
    public bool IsInMemory => false;
    /// <summary>Stopwatch ticks spent receiving (and passing on) weights, on the prefetch thread mostly, and sending
    /// gradients, on the executor's thread (exposed: the lockstep schedule waits for it), since construction.</summary>
    public long FetchTicks => Interlocked.Read(ref _fetchTicks);
    public long SendTicks => Interlocked.Read(ref _sendTicks);
    private long _fetchTicks, _sendTicks;

    public SystemLink(Wire wire, SwarmTree tree, int rank, ParameterLayout layout)
    {
        _wire = wire;
        _rank = rank;
        _parent = tree.Parent(rank);
        _children = tree.Children(rank);
        Layout = layout;
        var largest = checked((int)layout.LargestSegment);
        _term = new float[largest];
        _childFloats = _children.Length > 0 ? new float[PieceValues] : [];
        _sums = _children.Length > 0 ? new Int128[largest] : [];
        _childSums = _children.Length > 0 ? new Int128[PieceValues] : [];
    }

    /// <summary>Bytes a system holds for the link: the term buffer, and an inner node's sums.</summary>
    public static long Bytes(ParameterLayout layout, bool inner) => layout.LargestSegment * (inner ? 20L : 4L);

    public float[] Fetch(int s, float[] buffer)
    {
        var n = (int)Layout.Segments[s].Count;
        var start = global::System.Diagnostics.Stopwatch.GetTimestamp();
        if (_parent == 0) _wire.Send<int>(0, Wire.TagRequest, [s]);
        for (var at = 0; at < n; at += PieceValues)
        {
            var piece = buffer.AsSpan(at, Math.Min(PieceValues, n - at));
            _wire.Receive(_parent, Wire.TagWeights, piece);
            foreach (var c in _children) _wire.Send<float>(c, Wire.TagWeights, piece);
        }
        Interlocked.Add(ref _fetchTicks, global::System.Diagnostics.Stopwatch.GetTimestamp() - start);
        return buffer;
    }

    public void AccumulateGradient(int s, ReadOnlySpan<float> gradient, ReadOnlySpan<float> second, bool lastOfStep)
    {
        var n = (int)Layout.Segments[s].Count;
        if (gradient.Length != n || (second.Length != 0 && second.Length != n))
            throw new ArgumentException($"segment {Layout.Segments[s].Name} has {n} gradients (got {gradient.Length} and {second.Length})");
        var term = _term.AsSpan(0, n);
        // The shards' sum rounded once to fp32: the term MemoryX takes from one system (WeightStore.AccumulateGradientChunk).
        if (second.IsEmpty) gradient.CopyTo(term);
        else for (var i = 0; i < n; i++) term[i] = gradient[i] + second[i];
        Send(s, lastOfStep);
    }

    public int BeginGradient(int s, bool lastOfStep)
    {
        _chunkedSegment = s;
        _chunkedLast = lastOfStep;
        return (int)((Layout.Segments[s].Count + PieceValues - 1) / PieceValues);
    }

    public void AccumulateGradientChunk(int s, int i, ReadOnlySpan<float> gradient, ReadOnlySpan<float> second)
    {
        var n = (int)Layout.Segments[s].Count;
        var at = i * PieceValues;
        var m = Math.Min(PieceValues, n - at);
        for (var j = at; j < at + m; j++) _term[j] = second.IsEmpty ? gradient[j] : gradient[j] + second[j];
    }

    public void EndGradient(int s)
    {
        if (s != _chunkedSegment) throw new InvalidOperationException($"EndGradient of segment {s} while segment {_chunkedSegment} was begun");
        _chunkedSegment = -1;
        Send(s, _chunkedLast);
    }

    /// <summary>Segment s's term in _term, with the children's partial sums, to the parent.</summary>
    private void Send(int s, bool lastOfStep)
    {
        var start = global::System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            SendTerm(s, lastOfStep);
        }
        finally
        {
            Interlocked.Add(ref _sendTicks, global::System.Diagnostics.Stopwatch.GetTimestamp() - start);
        }
    }

    private void SendTerm(int s, bool lastOfStep)
    {
        var n = (int)Layout.Segments[s].Count;
        var term = _term.AsSpan(0, n);
        if (_children.Length == 0)
        {
            _wire.Send<int>(_parent, Wire.TagGradient, [s, lastOfStep ? 1 : 0, Floats, n]);
            _wire.Send<float>(_parent, Wire.TagGradient, term);
            return;
        }
        var sums = _sums.AsSpan(0, n);
        ExactSum.Accumulate(sums, term, first: true);
        Span<int> header = stackalloc int[4];
        foreach (var c in _children)
        {
            _wire.Receive(c, Wire.TagGradient, header);
            if (header[0] != s || header[3] != n || header[1] != (lastOfStep ? 1 : 0))
                throw new SwarmFailure($"system rank {c} sent a gradient of segment {header[0]} ({header[3]} values, last {header[1]}) where rank {_rank} sends segment {s} ({n}, last {(lastOfStep ? 1 : 0)}): the systems are out of step");
            for (var at = 0; at < n; at += PieceValues)
            {
                var m = Math.Min(PieceValues, n - at);
                if (header[2] == Floats)
                {
                    _wire.Receive(c, Wire.TagGradient, _childFloats.AsSpan(0, m));
                    ExactSum.Accumulate(sums.Slice(at, m), _childFloats.AsSpan(0, m), first: false);
                }
                else
                {
                    _wire.Receive(c, Wire.TagGradient, _childSums.AsSpan(0, m));
                    ExactSum.Accumulate(sums.Slice(at, m), _childSums.AsSpan(0, m), first: false);
                }
            }
        }
        _wire.Send<int>(_parent, Wire.TagGradient, [s, lastOfStep ? 1 : 0, Sums, n]);
        _wire.Send<Int128>(_parent, Wire.TagGradient, sums);
    }
}

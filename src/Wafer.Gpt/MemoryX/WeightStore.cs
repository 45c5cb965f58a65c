// MemoryX: the off-wafer store of fp32 weights and AdamW state. It serves one segment's weights at a time, takes each
// segment's gradients as they stream back, and applies the optimizer there, never on the device.
//
// Gradient clipping by global norm needs every gradient before any update, and gradient accumulation sums several
// passes. So MemoryX keeps a gradient accumulator per segment (state, next to m and v: 16 bytes per parameter in all)
// and folds each segment's squared norm in as its last contribution of the step arrives. A segment whose step gradient
// has one term takes it as it is; one with more terms (micro-batches, SwarmX's systems) adds them exactly in 128-bit
// fixed point (ExactSum.cs: 16 more bytes per parameter of such segments) and rounds once at the last term, so the
// result does not depend on how the terms were grouped or ordered. EndStep fixes the clip scale;
// the update itself is deferred and applied to a segment when it is next fetched (the next step's forward, or an
// eval), fused with that read: one pass over the state per step, and the device never holds a full-model gradient.
// Updates and the gradient hand-off run in fixed chunks (in parallel when the state is in memory, one by one from
// disk) whose per-chunk results combine in a fixed order, so the arithmetic is the same for every storage and thread
// count.
using Wafer.Core;
using System.Buffers;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Wafer.Gpt.MemoryX;

public sealed class WeightStore : IMemoryXLink, IDisposable
{
    private const int ChunkFloats = 1 << 18;

    /// <summary>The chunk (128 KB) of the gradient hand-off, everywhere, and of the AdamW update in memory: small enough
    /// that a nano block (197 K floats) splits over both cores (as one 256 K chunk its hand-off ran on one core while the
    /// other waited). Each hand-off chunk's sum of squares is one partial of the norm, so disk
    /// and memory add the same partials; the update is elementwise, so its chunking changes nothing.</summary>
    private const int SmallChunkFloats = 1 << 15;
    private readonly ISegmentStorage _storage;
    private readonly double[] _gradSumSquares;
    private readonly int[] _contributions;
    private readonly bool[] _pending;
    private readonly bool[] _firstContribution;  // per segment, while a gradient is being taken in
    private readonly bool[] _exact;              // per segment: this step's terms are added in ExactSum
    private readonly double[]?[] _partials;      // per segment, while a step's last gradient is being taken in
    private float _pendingLr, _pendingGradScale;

    public ParameterLayout Layout { get; }
    public OptimizerConfig Optimizer { get; }
    /// <summary>Optimizer steps taken (AdamW's t).</summary>
    public int Step { get; private set; }
    /// <summary>Weight bytes sent to the device and gradient bytes received since construction (counted atomically: the
    /// executor's two batch shards may fetch and send at the same time).</summary>
    public long BytesOut => Interlocked.Read(ref _bytesOut);
    public long BytesIn => Interlocked.Read(ref _bytesIn);
    private long _bytesOut, _bytesIn;
    /// <summary>Global gradient norm of the last finished step (after averaging over micro-batches, before clipping).</summary>
    public double LastGradNorm { get; private set; }
    public long ResidentBytes => _storage.ResidentBytes;
    /// <summary>True when the state lives in this process (reads are views, nothing to prefetch).</summary>
    public bool IsInMemory => _storage.View(0, StateKind.Weights) is not null;

    /// <summary>Threads for the optimizer update and the gradient hand-off when the state is in memory (on disk, the
    /// chunks are the storage's I/O unit and go one by one).</summary>
    public int Threads { get; }

    public WeightStore(ParameterLayout layout, ISegmentStorage storage, OptimizerConfig optimizer, int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "at least one thread");
        Threads = threads;
        Layout = layout;
        _storage = storage;
        Optimizer = optimizer;
        _gradSumSquares = new double[layout.Segments.Count];
        _contributions = new int[layout.Segments.Count];
        _pending = new bool[layout.Segments.Count];
        _firstContribution = new bool[layout.Segments.Count];
        _exact = new bool[layout.Segments.Count];
        _partials = new double[layout.Segments.Count][];
    }

    /// <summary>GPT-2 initialisation (nanoGPT's): matrices N(0, 0.02), residual output projections N(0, 0.02 / sqrt(2L)),
    /// LayerNorm weights 1, biases 0. Each segment draws from its own stream seeded by (seed, segment): the same seed gives
    /// the same model in any storage.</summary>
    public void Initialise(int seed)
    {
        var residualStd = 0.02 / Math.Sqrt(2.0 * Layout.Config.Layers);
        var buffer = new float[ChunkFloats];
        for (var s = 0; s < Layout.Segments.Count; s++)
        {
            var rng = new SplitMix64((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)s + 1);
            foreach (var slot in Layout.Segments[s].Tensors)
            {
                var isNormWeight = slot.Name.EndsWith(".w", StringComparison.Ordinal) && slot.Name.StartsWith("ln", StringComparison.Ordinal);
                var std = slot.Name is "attproj.w" or "fcproj.w" ? residualStd : 0.02;
                for (long at = 0; at < slot.Count; at += ChunkFloats)
                {
                    var chunk = buffer.AsSpan(0, (int)Math.Min(ChunkFloats, slot.Count - at));
                    if (isNormWeight) chunk.Fill(1f);
                    else if (!slot.Decay) chunk.Clear();
                    else for (var i = 0; i < chunk.Length; i++) chunk[i] = (float)(rng.NextNormal() * std);
                    _storage.Write(s, StateKind.Weights, slot.Offset + at, chunk);
                }
            }
        }
    }

    /// <summary>Segment s's current weights in the first Count floats of the result: the storage's own array when it is
    /// in memory (zero-copy, do not write), else buffer, read into. Applies the segment's deferred update first.</summary>
    public float[] Fetch(int s, float[] buffer)
    {
        ApplyPending(s);
        var count = (int)Layout.Segments[s].Count;
        Interlocked.Add(ref _bytesOut, 4L * count);
        var view = _storage.View(s, StateKind.Weights);
        if (view is not null) return view;
        _storage.Read(s, StateKind.Weights, 0, buffer.AsSpan(0, count));
        return buffer;
    }

    /// <summary>Adds one pass's gradient of segment s to the accumulator. lastOfStep: no more contributions to this
    /// segment this step, so its squared norm is final and is recorded.</summary>
    public void AccumulateGradient(int s, ReadOnlySpan<float> gradient, bool lastOfStep) => AccumulateGradient(s, gradient, [], lastOfStep);

    /// <summary>AccumulateGradient of gradient + second (elementwise, in float; second empty: none): the two batch shards'
    /// parts of one pass, added as they are taken in instead of in a pass of their own.</summary>
    public void AccumulateGradient(int s, ReadOnlySpan<float> gradient, ReadOnlySpan<float> second, bool lastOfStep)
    {
        var chunks = BeginGradient(s, lastOfStep);
        // Chunks in parallel when the state is in memory (done serially, this copy and norm held the other core idle),
        // one by one otherwise, with the same arithmetic either way.
        var inMemory = _storage.View(s, StateKind.Gradient) is not null;
        unsafe
        {
            fixed (float* pg = gradient, pg2 = second)
            {
                nint from = (nint)pg, from2 = (nint)pg2;
                int n = gradient.Length, n2 = second.Length;
                Numerics.WorkerPool.Run(chunks, inMemory ? Threads : 1,
                    i => AccumulateGradientChunk(s, i, new ReadOnlySpan<float>((float*)from, n), new ReadOnlySpan<float>((float*)from2, n2)));
            }
        }
        EndGradient(s);
    }

    /// <summary>Adds a partial sum of several terms, already added exactly, to segment s (SwarmX's tree).</summary>
    public void AccumulateSums(int s, ReadOnlySpan<Int128> sums, bool lastOfStep)
    {
        var chunks = BeginSums(s, lastOfStep);
        var inMemory = _storage.SumsView(s) is not null;
        unsafe
        {
            fixed (Int128* ps = sums)
            {
                nint from = (nint)ps;
                var n = sums.Length;
                Numerics.WorkerPool.Run(chunks, inMemory ? Threads : 1, i => AccumulateSumsChunk(s, i, new ReadOnlySpan<Int128>((Int128*)from, n)));
            }
        }
        EndGradient(s);
    }

    /// <summary>Starts taking one pass's gradient of segment s in chunks (AccumulateGradientChunk for each of the returned
    /// count, on any threads, then EndGradient): the executor's free-running shards share the chunks out.</summary>
    public int BeginGradient(int s, bool lastOfStep) => Begin(s, lastOfStep, exactTerm: false);

    /// <summary>Starts taking a partial sum of several terms already added exactly (SwarmX's tree: AccumulateSumsChunk
    /// for each of the returned chunks, then EndGradient).</summary>
    public int BeginSums(int s, bool lastOfStep) => Begin(s, lastOfStep, exactTerm: true);

    private int Begin(int s, bool lastOfStep, bool exactTerm)
    {
        var count = Layout.Segments[s].Count;
        if (_pending[s]) ApplyPending(s);
        Interlocked.Add(ref _bytesIn, (exactTerm ? 16L : 4L) * count);
        _firstContribution[s] = _contributions[s] == 0;
        _contributions[s]++;
        if (_contributions[s] > ExactSum.MaxTerms) throw new InvalidOperationException($"segment {Layout.Segments[s].Name} took more than {ExactSum.MaxTerms} gradient terms in one step");
        // The first term decides: one that is the step's only term is taken as it is; else the step's terms add exactly.
        if (_firstContribution[s]) _exact[s] = exactTerm || !lastOfStep;
        if (_exact[s]) _storage.EnsureSums(s);
        // Chunks of SmallChunkFloats, each with its own partial sum of squares, added in chunk order in EndGradient.
        var chunks = (int)((count + SmallChunkFloats - 1) / SmallChunkFloats);
        _partials[s] = lastOfStep ? new double[chunks] : null;
        return chunks;
    }

    /// <summary>Chunk i of segment s's gradient (gradient + second when second is not empty) into the accumulator.</summary>
    public void AccumulateGradientChunk(int s, int i, ReadOnlySpan<float> gradient, ReadOnlySpan<float> second)
    {
        var count = Layout.Segments[s].Count;
        if (gradient.Length != count || (second.Length != 0 && second.Length != count))
            throw new ArgumentException($"segment {Layout.Segments[s].Name} has {count} gradients (got {gradient.Length} and {second.Length})");
        var at = (long)i * SmallChunkFloats;
        var n = (int)Math.Min(SmallChunkFloats, count - at);
        var g = gradient.Slice((int)at, n);
        if (_exact[s])
        {
            // The term is the shards' sum rounded once to fp32, as the float path below adds it.
            var term = g;
            float[]? sum = null;
            if (!second.IsEmpty)
            {
                sum = ArrayPool<float>.Shared.Rent(n);
                AddSum(sum.AsSpan(0, n), g, second.Slice((int)at, n), first: true);
                term = sum.AsSpan(0, n);
            }
            AccumulateExact(s, at, n, term, []);
            if (sum is not null) ArrayPool<float>.Shared.Return(sum);
            return;
        }
        var inMemory = _storage.View(s, StateKind.Gradient) is not null; // chunks are views: no scratch, no I/O
        var first = _firstContribution[s];
        var scratch = inMemory ? [] : ArrayPool<float>.Shared.Rent(n);
        var acc = Open(s, StateKind.Gradient, at, n, scratch, read: !first);
        if (second.IsEmpty)
        {
            if (first) g.CopyTo(acc);
            else Numerics.Vec.AddTo(acc, g);
        }
        else AddSum(acc, g, second.Slice((int)at, n), first);
        var partial = _partials[s];
        if (partial is not null) partial[i] = SumOfSquares(acc);
        Close(s, StateKind.Gradient, at, acc, scratch);
        if (!inMemory) ArrayPool<float>.Shared.Return(scratch);
    }

    /// <summary>Chunk i of a partial sum of segment s (begun with BeginSums) into the exact sums.</summary>
    public void AccumulateSumsChunk(int s, int i, ReadOnlySpan<Int128> sums)
    {
        var count = Layout.Segments[s].Count;
        if (sums.Length != count) throw new ArgumentException($"segment {Layout.Segments[s].Name} has {count} gradients (got {sums.Length} sums)");
        var at = (long)i * SmallChunkFloats;
        var n = (int)Math.Min(SmallChunkFloats, count - at);
        AccumulateExact(s, at, n, [], sums.Slice((int)at, n));
    }

    /// <summary>Adds one term's chunk (fp32 values, or fixed-point sums when values is empty) to segment s's exact sums;
    /// at the step's last term, rounds them into the gradient accumulator and records the chunk's sum of squares.</summary>
    private void AccumulateExact(int s, long at, int n, ReadOnlySpan<float> values, ReadOnlySpan<Int128> sums)
    {
        var first = _firstContribution[s];
        var view = _storage.SumsView(s);
        var scratch = view is null ? ArrayPool<Int128>.Shared.Rent(n) : null;
        var acc = view is null ? scratch.AsSpan(0, n) : view.AsSpan((int)at, n);
        if (view is null && !first) _storage.ReadSums(s, at, acc);
        if (values.IsEmpty) ExactSum.Accumulate(acc, sums, first);
        else ExactSum.Accumulate(acc, values, first);
        var partial = _partials[s];
        if (partial is null)
        {
            if (view is null) _storage.WriteSums(s, at, acc);
        }
        else
        {
            // The step's last term: the sums are done with; their rounding is the step's gradient.
            var floats = ArrayPool<float>.Shared.Rent(n);
            var g = Open(s, StateKind.Gradient, at, n, floats, read: false);
            ExactSum.Round(acc, g);
            partial[(int)(at / SmallChunkFloats)] = SumOfSquares(g);
            Close(s, StateKind.Gradient, at, g, floats);
            ArrayPool<float>.Shared.Return(floats);
        }
        if (scratch is not null) ArrayPool<Int128>.Shared.Return(scratch);
    }

    /// <summary>Ends taking segment s's gradient: records its squared norm when it was the step's last contribution.</summary>
    public void EndGradient(int s)
    {
        var partial = _partials[s];
        if (partial is null) return;
        _partials[s] = null;
        double sumSquares = 0;
        foreach (var part in partial) sumSquares += part;
        _gradSumSquares[s] = sumSquares;
    }

    /// <summary>acc = g + g2 (first) or acc += (g + g2): the shards' sum rounded once, then added, as a separate add pass
    /// followed by the hand-off would.</summary>
    private static void AddSum(Span<float> acc, ReadOnlySpan<float> g, ReadOnlySpan<float> g2, bool first)
    {
        if (g.Length < acc.Length || g2.Length < acc.Length) throw new ArgumentException("AddSum: a gradient is shorter than the accumulator");
        var i = 0;
        ref var ra = ref MemoryMarshal.GetReference(acc);
        ref var r1 = ref MemoryMarshal.GetReference(g);
        ref var r2 = ref MemoryMarshal.GetReference(g2);
        for (; i + 8 <= acc.Length; i += 8)
        {
            var at = (nuint)i;
            var sum = Vector256.LoadUnsafe(ref r1, at) + Vector256.LoadUnsafe(ref r2, at);
            (first ? sum : Vector256.LoadUnsafe(ref ra, at) + sum).StoreUnsafe(ref ra, at);
        }
        for (; i < acc.Length; i++) acc[i] = first ? g[i] + g2[i] : acc[i] + (g[i] + g2[i]);
    }

    /// <summary>Sum of x² in double, in a fixed order (eight interleaved partial sums, then in order).</summary>
    private static double SumOfSquares(ReadOnlySpan<float> x)
    {
        var i = 0;
        Vector256<double> lo = default, hi = default;
        ref var rx = ref MemoryMarshal.GetReference(x);
        for (; i + 8 <= x.Length; i += 8)
        {
            var (l, h) = Vector256.Widen(Vector256.LoadUnsafe(ref rx, (nuint)i));
            lo += l * l;
            hi += h * h;
        }
        var sum = Vector256.Sum(lo) + Vector256.Sum(hi);
        for (; i < x.Length; i++) sum += (double)x[i] * x[i];
        return sum;
    }

    /// <summary>A chunk of one state array to work on: the storage's own memory when it has it (zero-copy), else scratch
    /// (read from storage first when read is set). Close writes scratch back; views need nothing.</summary>
    private Span<float> Open(int s, StateKind kind, long start, int n, float[] scratch, bool read = true)
    {
        var view = _storage.View(s, kind);
        if (view is not null) return view.AsSpan((int)start, n);
        var span = scratch.AsSpan(0, n);
        if (read) _storage.Read(s, kind, start, span);
        return span;
    }

    private void Close(int s, StateKind kind, long start, Span<float> chunk, float[] scratch)
    {
        if (_storage.View(s, kind) is null) _storage.Write(s, kind, start, chunk);
    }

    /// <summary>Ends an optimizer step over the accumulated gradients (summed over `passes` micro-batches, each the
    /// gradient of a mean loss): fixes the clip scale and schedules every segment's AdamW update at learningRate.</summary>
    public void EndStep(float learningRate, int passes)
    {
        for (var s = 0; s < _contributions.Length; s++)
            if (_contributions[s] == 0) throw new InvalidOperationException($"segment {Layout.Segments[s].Name} received no gradient this step");
        var norm = Math.Sqrt(_gradSumSquares.Sum()) / passes;
        LastGradNorm = norm;
        var clip = Optimizer.ClipNorm > 0 && norm > Optimizer.ClipNorm ? Optimizer.ClipNorm / (norm + 1e-6) : 1.0;
        _pendingGradScale = (float)(clip / passes);
        _pendingLr = learningRate;
        Step++;
        Array.Fill(_pending, true);
        Array.Clear(_contributions);
        Array.Clear(_gradSumSquares);
    }

    /// <summary>Applies every deferred update now (before a checkpoint or reading the weights directly).</summary>
    public void ApplyAllPending()
    {
        for (var s = 0; s < _pending.Length; s++) ApplyPending(s);
    }

    private void ApplyPending(int s)
    {
        if (!_pending[s]) return;
        _pending[s] = false;
        // Chunks of every tensor, updated in parallel when the state is in memory (elementwise: same result on any thread
        // and any chunk size). In memory the chunks are small, so a block's few large tensors share out evenly over the
        // threads; on disk they are the storage's I/O unit.
        var inMemory = _storage.View(s, StateKind.Weights) is not null;
        var chunkFloats = inMemory ? SmallChunkFloats : ChunkFloats;
        var chunks = new List<(long Start, int Count, float Decay)>();
        foreach (var slot in Layout.Segments[s].Tensors)
            for (long at = 0; at < slot.Count; at += chunkFloats)
                chunks.Add((slot.Offset + at, (int)Math.Min(chunkFloats, slot.Count - at), slot.Decay ? Optimizer.WeightDecay : 0f));
        var threads = inMemory ? Threads : 1;
        Numerics.WorkerPool.Run(chunks.Count, threads, i => UpdateChunk(s, chunks[i].Start, chunks[i].Count, chunks[i].Decay));
    }

    private void UpdateChunk(int s, long start, int n, float wd)
    {
        var o = Optimizer;
        float b1 = o.Beta1, b2 = o.Beta2, eps = o.Epsilon, lr = _pendingLr, scale = _pendingGradScale;
        var c1 = 1f - MathF.Pow(b1, Step);
        var c2 = 1f - MathF.Pow(b2, Step);
        var pool = ArrayPool<float>.Shared;
        float[] sw = pool.Rent(n), sm = pool.Rent(n), sv = pool.Rent(n), sg = pool.Rent(n);
        var w = Open(s, StateKind.Weights, start, n, sw);
        var m = Open(s, StateKind.FirstMoment, start, n, sm);
        var v = Open(s, StateKind.SecondMoment, start, n, sv);
        var g = Open(s, StateKind.Gradient, start, n, sg);
        var i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            // The same again sixteen lanes at a time where the CPU has 512-bit vectors (each lane's operations, and so
            // its result, are the same whatever the width).
            var vScale = Vector512.Create(scale); var vB1 = Vector512.Create(b1); var vB2 = Vector512.Create(b2);
            var vNb1 = Vector512.Create(1 - b1); var vNb2 = Vector512.Create(1 - b2); var vC1 = Vector512.Create(c1);
            var vC2 = Vector512.Create(c2); var vEps = Vector512.Create(eps); var vLr = Vector512.Create(lr); var vWd = Vector512.Create(wd);
            ref var rw = ref MemoryMarshal.GetReference(w);
            ref var rm = ref MemoryMarshal.GetReference(m);
            ref var rv = ref MemoryMarshal.GetReference(v);
            ref var rg = ref MemoryMarshal.GetReference(g);
            for (; i + 16 <= n; i += 16)
            {
                var at = (nuint)i;
                var gi = Vector512.LoadUnsafe(ref rg, at) * vScale;
                var mi = vB1 * Vector512.LoadUnsafe(ref rm, at) + vNb1 * gi;
                var vi = vB2 * Vector512.LoadUnsafe(ref rv, at) + vNb2 * gi * gi;
                var wi = Vector512.LoadUnsafe(ref rw, at);
                mi.StoreUnsafe(ref rm, at);
                vi.StoreUnsafe(ref rv, at);
                (wi - vLr * (mi / vC1 / (Vector512.Sqrt(vi / vC2) + vEps) + vWd * wi)).StoreUnsafe(ref rw, at);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            // The same operations in the same order as the scalar tail, eight lanes at a time (no fused multiply-add),
            // through refs: slicing the spans for every vector (bounds checks, span construction) was a large share of this loop.
            var vScale = Vector256.Create(scale); var vB1 = Vector256.Create(b1); var vB2 = Vector256.Create(b2);
            var vNb1 = Vector256.Create(1 - b1); var vNb2 = Vector256.Create(1 - b2); var vC1 = Vector256.Create(c1);
            var vC2 = Vector256.Create(c2); var vEps = Vector256.Create(eps); var vLr = Vector256.Create(lr); var vWd = Vector256.Create(wd);
            ref var rw = ref MemoryMarshal.GetReference(w);
            ref var rm = ref MemoryMarshal.GetReference(m);
            ref var rv = ref MemoryMarshal.GetReference(v);
            ref var rg = ref MemoryMarshal.GetReference(g);
            for (; i + 8 <= n; i += 8)
            {
                var at = (nuint)i;
                var gi = Vector256.LoadUnsafe(ref rg, at) * vScale;
                var mi = vB1 * Vector256.LoadUnsafe(ref rm, at) + vNb1 * gi;
                var vi = vB2 * Vector256.LoadUnsafe(ref rv, at) + vNb2 * gi * gi;
                var wi = Vector256.LoadUnsafe(ref rw, at);
                mi.StoreUnsafe(ref rm, at);
                vi.StoreUnsafe(ref rv, at);
                (wi - vLr * (mi / vC1 / (Vector256.Sqrt(vi / vC2) + vEps) + vWd * wi)).StoreUnsafe(ref rw, at);
            }
        }
        for (; i < n; i++)
        {
            var gi = g[i] * scale;
            var mi = b1 * m[i] + (1 - b1) * gi;
            var vi = b2 * v[i] + (1 - b2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            w[i] -= lr * (mi / c1 / (MathF.Sqrt(vi / c2) + eps) + wd * w[i]);
        }
        Close(s, StateKind.Weights, start, w, sw);
        Close(s, StateKind.FirstMoment, start, m, sm);
        Close(s, StateKind.SecondMoment, start, v, sv);
        pool.Return(sw); pool.Return(sm); pool.Return(sv); pool.Return(sg);
    }

    /// <summary>Reads one kind of state of segment s (after pending updates), for checkpoints and tests.</summary>
    public void ReadState(int s, StateKind kind, long start, Span<float> destination)
    {
        ApplyPending(s);
        _storage.Read(s, kind, start, destination);
    }

    /// <summary>Replaces one kind of state of segment s (checkpoint restore).</summary>
    public void WriteState(int s, StateKind kind, long start, ReadOnlySpan<float> source)
    {
        _pending[s] = false;
        _storage.Write(s, kind, start, source);
    }

    /// <summary>Restores the optimizer step counter (checkpoint restore).</summary>
    public void RestoreStep(int step) => Step = step;

    public void Flush() => _storage.Flush();
    public void Dispose() => _storage.Dispose();
}

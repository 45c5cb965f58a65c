// How the executor streams its segments (see GptExecutor.cs's header): receiving a segment's weights from MemoryX, the
// lockstep schedule (RunStages -> Stream: one segment at a time, both shards, then its hand-off) that is the reference
// path, and each backward segment's hand-off of its gradients to MemoryX (whole in lockstep; in chunk tasks for the
// free-running schedule, FreeRunningShards.cs, which calls the internal members here).
using Wafer.Gpt.MemoryX;
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Model;

public sealed partial class GptExecutor
{
    /// <summary>A gradient the backward of a segment sends to MemoryX: shard 0's buffer, plus shard 1's when two.</summary>
    private readonly record struct GradientPart(int Segment, float[] First, float[]? Second, bool CanBeLast);

    /// <summary>Segment s's weights on the device: fetched (or, zero-copy, viewed) and rounded to the stream precision.</summary>
    private float[] Receive(int s, float[] buffer)
    {
        var w = _store.Fetch(s, buffer);
        var count = (int)_layout.Segments[s].Count;
        Interlocked.Add(ref _bytesStreamed, (long)count * StreamRounding.BytesPerWeight(Precision));
        if (Precision == StreamPrecision.Fp32) return w;
        if (!ReferenceEquals(w, buffer)) w.AsSpan(0, count).CopyTo(buffer);
        StreamRounding.Round(buffer.AsSpan(0, count), Precision);
        return buffer;
    }

    /// <summary>Receive, then what the device keeps of a segment beyond its pass: tied models hold wte for the head.</summary>
    internal float[] Arrive(int s, float[] buffer)
    {
        var w = Receive(s, buffer);
        if (s == 0 && _cfg.TiedEmbedding)
        {
            // Held on the device until the head has run. A view of MemoryX's own fp32 weights stays as it is for the whole
            // pass (segment 0's next update comes with its next fetch), so it is used as it is: copying gpt2-124m's wte
            // (154 MB) every pass cost more than the head's softmax. A buffer is reused by the segments after it: copied.
            var wte = _layout.Embedding["wte"];
            if (ReferenceEquals(w, buffer)) w.AsSpan((int)wte.Offset, (int)wte.Count).CopyTo(_embedForHead);
            _headEmbedding = ReferenceEquals(w, buffer) ? _embedForHead : w;
        }
        return w;
    }

    /// <summary>Whether the schedule asks for the two shards on the two threads at once (else one after the other, each
    /// operation parallel inside).</summary>
    private bool ShardsPaired => _shards.Length == 2 && _host.Threads == 2 && _host.ConcurrentShards;

    /// <summary>ShardsPaired, except from inside a part of a parallel job: there, work runs inline.</summary>
    private bool ShardsConcurrent => ShardsPaired && !WorkerPool.InPart;

    /// <summary>Whether they also run free (see the header): weights as views, nothing rounded.</summary>
    private bool FreeRunning => _free is not null && !WorkerPool.InPart;

    /// <summary>Whether weights arrive as MemoryX's own fp32 arrays (in memory, nothing rounded), not in a reused buffer.</summary>
    private bool WeightsAreViews => _store.IsInMemory && Precision == StreamPrecision.Fp32;

    /// <summary>One shard's pass through one segment: forward, or backward with the segment's reduction after it.</summary>
    internal readonly record struct Stage(int Segment, bool Backward);

    private Stage[] ForwardStages => Enumerable.Range(0, _layout.Segments.Count).Select(s => new Stage(s, false)).ToArray();

    /// <summary>Head first, then blocks L-1 .. 0; the embedding needs no weights for its backward, only the tokens.</summary>
    private Stage[] BackwardStages => Enumerable.Range(1, _cfg.Layers + 1).Reverse().Select(s => new Stage(s, true)).ToArray();

    /// <summary>Runs the stages for every shard, each backward stage's reduction (its gradients to MemoryX) once both
    /// shards have finished it: free-running or in lockstep (see the header).</summary>
    private void RunStages(Stage[] stages)
    {
        if (FreeRunning)
        {
            _free!.Run(stages);
            return;
        }
        var backward = stages[0].Backward;
        if (stages.Any(st => st.Backward != backward)) throw new InvalidOperationException("lockstep runs one direction at a time");
        Stream(stages.Select(st => st.Segment).ToArray(), (s, w) =>
        {
            var stage = new Stage(s, backward);
            Action<int> work = i => RunStage(i, stage, w);
            if (ShardsConcurrent) WorkerPool.Run(2, 2, work);
            else for (var i = 0; i < _shards.Length; i++) work(i);
            if (backward) Reduce(s);
        });
    }

    /// <summary>What segment s's reduction sends: its gradient (a tied head's part of the embedding's stays on the device
    /// and is added to the embedding's own, which goes as one term: EmbeddingBackward).</summary>
    private GradientPart[] ReductionParts(int s)
    {
        var two = _shards.Length == 2;
        return [new GradientPart(s, GradientArray(0, s), two ? GradientArray(1, s) : null, CanBeLast: true)];
    }

    private ReadOnlySpan<float> Span(float[]? buffer, int segment) =>
        buffer is null ? [] : buffer.AsSpan(0, (int)_layout.Segments[segment].Count);

    /// <summary>Weight buffer i of the double buffer (stage i's, when weights are not views).</summary>
    internal float[] WeightBuffer(int i) => _weightBuffers[i % 2];

    /// <summary>One shard through one stage (the segment's forward, or its backward into the shard's gradient buffer).</summary>
    internal void RunStage(int shard, Stage stage, float[] w)
    {
        if (stage.Backward) BackwardSegment(shard, stage.Segment, w);
        else ForwardSegment(shard, stage.Segment, w);
    }

    /// <summary>Sends segment s's gradients (lockstep: every chunk split over the threads).</summary>
    private void Reduce(int s)
    {
        foreach (var part in _reduceParts[s])
        {
            _store.AccumulateGradient(part.Segment, Span(part.First, part.Segment), Span(part.Second, part.Segment), part.CanBeLast && _lastPass);
            Interlocked.Add(ref _bytesStreamed, 4L * _layout.Segments[part.Segment].Count);
        }
    }

    /// <summary>Starts segment s's free-running reduction; returns its chunk tasks.</summary>
    internal int BeginReduction(int s)
    {
        var parts = _reduceParts[s];
        var tasks = 0;
        for (var j = 0; j < parts.Length; j++)
        {
            _partFirstTask[s][j] = tasks;
            tasks += _store.BeginGradient(parts[j].Segment, parts[j].CanBeLast && _lastPass);
        }
        return tasks;
    }

    internal void RunReductionTask(int s, int task)
    {
        var parts = _reduceParts[s];
        var j = parts.Length - 1;
        while (_partFirstTask[s][j] > task) j--;
        var part = parts[j];
        _store.AccumulateGradientChunk(part.Segment, task - _partFirstTask[s][j], Span(part.First, part.Segment), Span(part.Second, part.Segment));
    }

    internal void EndReduction(int s)
    {
        foreach (var part in _reduceParts[s])
        {
            _store.EndGradient(part.Segment);
            Interlocked.Add(ref _bytesStreamed, 4L * _layout.Segments[part.Segment].Count);
        }
    }

    /// <summary>Streams segments in the given order, calling use(segment index, weights) for each while the next one is
    /// fetched on another thread into the other buffer. The fetch only reads MemoryX; use only touches the device.</summary>
    private void Stream(IReadOnlyList<int> order, Action<int, float[]> use)
    {
        var current = Arrive(order[0], _weightBuffers[0]);
        for (var i = 0; i < order.Count; i++)
        {
            Task<float[]>? next = null;
            if (i + 1 < order.Count)
            {
                var s = order[i + 1];
                var buffer = _weightBuffers[(i + 1) % 2];
                // In-memory MemoryX serves views: nothing to overlap, and its (parallel) optimizer update runs inline.
                next = _store.IsInMemory ? Task.FromResult(Arrive(s, buffer)) : Task.Run(() => Arrive(s, buffer));
            }
            use(order[i], current);
            if (next is not null) current = next.GetAwaiter().GetResult();
        }
    }
}

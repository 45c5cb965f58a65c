// The weight-streaming executor: runs a GPT forward and backward the way a CS-2 does (DESIGN.md §2.3), on host kernels.
// Activations of the pass stay on the "device" (this object); weights arrive from MemoryX one segment at a time
// (embedding, block 0 .. L-1, head) into a device buffer while the next segment is prefetched into a second one;
// each segment's gradients are computed into one device gradient buffer and streamed back to MemoryX at once.
//
// Batch shards (TransformerBlock.Shards): a small model's batch is computed as two halves of its sequences, one per
// core, every product and layer inside a shard single-threaded; the halves' weight gradients go to two buffers added
// as the segment is sent. When MemoryX is in memory at fp32 (its weights are views, nothing is copied or rounded) the
// two shards run free through the whole pass (RunFree): no join per segment, each shard waiting only for what it
// needs of the other — a segment's weights, fetched by whichever shard started the segment before it first (the
// fetch applies the deferred AdamW update), and, in the backward, a gradient buffer freed by the reduction two
// segments back, done by whichever shard finished that segment second. A slow core at one segment is thus made up at
// the next instead of holding the other core at a join (8 joins a nano step, 1-4 ms of it spent waiting). Otherwise
// (weights from disk or rounded, one shard, another thread count) segments run in lockstep (Stream): both shards of a
// segment, then its reduction. The arithmetic is the same either way: results do not depend on the schedule.
// B batch, T sequence, C channels, V vocabulary (Vp padded), L layers.
using Wafer.Gpt.Layers;
using Wafer.Gpt.MemoryX;
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Model;

public sealed class GptExecutor
{
    private readonly WeightStore _store;
    private readonly GptConfig _cfg;
    private readonly ParameterLayout _layout;
    private readonly TransformerBlock[] _blocks;
    private readonly BlockActivations[] _acts;
    private readonly BlockActivations _dActs;
    private readonly float[] _encoded, _lnf, _lnfMean, _lnfRstd, _logits, _probs, _losses; // (BT,C) x2, (BT) x2, (BT,Vp) x2, (BT)
    private readonly float[] _dA, _dB, _dLogits, _dLosses;                                   // (BT,C) x2, (BT,Vp), (BT)
    private readonly float[][] _weightBuffers = new float[2][];                              // double buffer, largest segment
    private readonly float[] _embedForHead;                                                  // tied models: wte while the head runs
    private readonly float[][][] _grads;              // [shard][segment parity]: shard 0's first is the largest segment
    private readonly float[][] _embedGrads;           // tied models: [shard] the head's part of the embedding gradient
    private readonly (int B0, int Nb)[] _shards;
    private readonly SegmentFlags _flags;
    private readonly GradientPart[][] _reduceParts;   // [segment]: what its reduction sends (see ReductionParts)
    private readonly int[][] _partFirstTask;          // [segment][part]: its first chunk task in a free-running reduction
    private bool _lastPass;                           // the backward in progress is its step's last pass

    /// <summary>A gradient the backward of a segment sends to MemoryX: shard 0's buffer, plus shard 1's when two.</summary>
    private readonly record struct GradientPart(int Segment, float[] First, float[]? Second, bool CanBeLast);
    private int[] _inputs = [], _targets = [];
    private readonly int _headSegment;

    public int Batch { get; }
    public int SeqLen { get; }
    public StreamPrecision Precision { get; }
    /// <summary>Weight bytes (at stream precision) and gradient bytes (fp32) between MemoryX and the device since construction.</summary>
    public long BytesStreamed => Interlocked.Read(ref _bytesStreamed);
    private long _bytesStreamed; // added to by the prefetch thread, the shards and the main thread
    /// <summary>What the device holds at its peak: activations, their gradients, weight buffers, gradient buffers.</summary>
    public long DeviceBytes { get; }

    /// <summary>Whether two shards on two threads may run free (else in lockstep, each operation parallel inside); the
    /// results are the same either way (tests compare the two).</summary>
    internal static bool ConcurrentShards { get; set; } = true;

    public GptExecutor(WeightStore store, int batch, int seqLen, StreamPrecision precision = StreamPrecision.Fp32)
    {
        _store = store;
        _layout = store.Layout;
        _cfg = _layout.Config;
        if (batch < 1 || seqLen < 1 || seqLen > _cfg.MaxSeqLen) throw new ArgumentException($"batch {batch} and sequence {seqLen} must be >= 1, sequence <= {_cfg.MaxSeqLen}");
        Batch = batch;
        SeqLen = seqLen;
        Precision = precision;
        var rotary = _cfg.Positions == PositionEncoding.Rotary ? new Rotary(_cfg.MaxSeqLen, _cfg.RotaryDims, _cfg.RotaryInterleaved) : null;
        _blocks = Enumerable.Range(0, _cfg.Layers).Select(l => new TransformerBlock(_cfg, _layout.Block(l), rotary)).ToArray();
        _acts = Enumerable.Range(0, _cfg.Layers).Select(_ => new BlockActivations(_cfg, batch, seqLen)).ToArray();
        _dActs = new BlockActivations(_cfg, batch, seqLen, gradients: true);
        int bt = batch * seqLen, c = _cfg.Channels, vp = _cfg.PaddedVocabSize;
        _encoded = new float[bt * c]; _lnf = new float[bt * c]; _lnfMean = new float[bt]; _lnfRstd = new float[bt];
        _logits = new float[(long)bt * vp <= Array.MaxLength ? bt * vp : throw new ArgumentException("B*T*Vp logits exceed one array")];
        _probs = new float[bt * vp]; _losses = new float[bt];
        _dA = new float[bt * c]; _dB = new float[bt * c]; _dLogits = new float[bt * vp]; _dLosses = new float[bt];
        var largest = checked((int)_layout.LargestSegment);
        _headSegment = _layout.Segments.Count - 1;
        _weightBuffers[0] = new float[largest];
        _weightBuffers[1] = new float[largest];
        _embedForHead = _cfg.TiedEmbedding ? new float[_layout.Embedding.Count] : [];
        _shards = TransformerBlock.Shards(_cfg, batch);
        _flags = new SegmentFlags(2 * _layout.Segments.Count - 1); // a training pass's stages
        // Gradient buffers: with two shards, two each (a free-running shard may start a segment while the one before is
        // being reduced: segments alternate between them); else one. The embedding's backward uses shard 0's first, so
        // that one holds the largest segment of all.
        var largestStreamed = checked((int)Enumerable.Range(1, _headSegment).Max(s => _layout.Segments[s].Count));
        _grads = Enumerable.Range(0, _shards.Length).Select(i => new[]
        {
            new float[i == 0 ? largest : largestStreamed],
            _shards.Length == 2 ? new float[largestStreamed] : [],
        }).ToArray();
        _embedGrads = Enumerable.Range(0, _shards.Length).Select(_ => _cfg.TiedEmbedding ? new float[_layout.Embedding.Count] : []).ToArray();
        _reduceParts = Enumerable.Range(0, _layout.Segments.Count).Select(ReductionParts).ToArray();
        _partFirstTask = _reduceParts.Select(p => new int[p.Length]).ToArray();
        var bytesPerWeight = StreamRounding.BytesPerWeight(precision);
        DeviceBytes = _acts.Sum(a => a.Bytes) + _dActs.Bytes
            + 4L * (_encoded.Length + _lnf.Length + _lnfMean.Length + _lnfRstd.Length + _logits.Length + _probs.Length + _losses.Length + _dA.Length + _dB.Length + _dLogits.Length + _dLosses.Length)
            + bytesPerWeight * (2L * largest + _embedForHead.Length)
            + 4L * (_grads.Sum(p => (long)p[0].Length + p[1].Length) + _embedGrads.Sum(e => (long)e.Length));
    }

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
    private float[] Arrive(int s, float[] buffer)
    {
        var w = Receive(s, buffer);
        if (s == 0 && _cfg.TiedEmbedding)
        {
            var wte = _layout.Embedding["wte"];
            w.AsSpan((int)wte.Offset, (int)wte.Count).CopyTo(_embedForHead); // held on the device until the head has run
        }
        return w;
    }

    /// <summary>Whether this pass's shards run free (see the header): two shards, two threads, weights as views.</summary>
    private bool FreeRunning => _shards.Length == 2 && Gemm.Threads == 2 && ConcurrentShards && !WorkerPool.InPart
        && _store.IsInMemory && Precision == StreamPrecision.Fp32;

    /// <summary>One shard's pass through one segment: forward, or backward with the segment's reduction after it.</summary>
    private readonly record struct Stage(int Segment, bool Backward);

    private Stage[] ForwardStages => Enumerable.Range(0, _layout.Segments.Count).Select(s => new Stage(s, false)).ToArray();

    /// <summary>Head first, then blocks L-1 .. 0; the embedding needs no weights for its backward, only the tokens.</summary>
    private Stage[] BackwardStages => Enumerable.Range(1, _cfg.Layers + 1).Reverse().Select(s => new Stage(s, true)).ToArray();

    /// <summary>Runs the stages for every shard, each backward stage's reduction (its gradients to MemoryX) once both
    /// shards have finished it: free-running or in lockstep (see the header).</summary>
    private void RunStages(Stage[] stages)
    {
        if (FreeRunning)
        {
            RunFree(stages);
            return;
        }
        Stream(stages.Select(st => st.Segment).ToArray(), (s, w) =>
        {
            var backward = stages[0].Backward; // lockstep runs one direction at a time
            Action<int> work = backward ? i => BackwardSegment(i, s, w) : i => ForwardSegment(i, s, w);
            if (_shards.Length == 2 && Gemm.Threads == 2 && ConcurrentShards && !WorkerPool.InPart) WorkerPool.Run(2, 2, work);
            else for (var i = 0; i < _shards.Length; i++) work(i);
            if (backward) Reduce(s);
        });
    }

    /// <summary>Both shards free-running over the stages, one per core (see the header). A stage's weights are fetched by
    /// the shard that starts the stage before it first. The shard that finishes a backward stage second publishes its
    /// reduction as chunk tasks and goes on; the other shard takes them at its next stage boundary (the early shard does
    /// the hand-off, not the late one: the late one doing every reduction fell further behind at each, 4-6 ms apart at
    /// the backward's end). A shard starting stage i first needs stage i-2 finished by both and reduced (its gradient
    /// buffers are stage i's), helping with it if need be, and at the end both take what is left.</summary>
    private void RunFree(Stage[] stages)
    {
        _flags.Reset();
        Action<int, int> task = (i, k) => RunReductionTask(stages[i].Segment, k);
        Action<int> end = i => EndReduction(stages[i].Segment);
        WorkerPool.Run(2, 2, shard =>
        {
            try
            {
                for (var i = 0; i < stages.Length; i++)
                {
                    var (s, backward) = stages[i];
                    var buffer = _weightBuffers[i % 2]; // unused: in-memory weights are views
                    var w = _flags.Weights(i, () => Arrive(s, buffer));
                    if (i + 1 < stages.Length)
                    {
                        var next = stages[i + 1].Segment;
                        _flags.Claim(i + 1, () => Arrive(next, _weightBuffers[(i + 1) % 2]));
                    }
                    if (i >= 2) _flags.AwaitReduced(i - 2, task, end);
                    if (backward) BackwardSegment(shard, s, w);
                    else ForwardSegment(shard, s, w);
                    var published = -1;
                    if (_flags.FinishIsLast(i))
                    {
                        _flags.Publish(i, backward ? BeginReduction(s) : 0);
                        published = i;
                    }
                    for (var j = 0; j <= i; j++)
                        if (j != published) _flags.Help(j, task, end);
                }
                for (var j = 0; j < stages.Length; j++) _flags.AwaitReduced(j, task, end);
            }
            catch
            {
                _flags.Fail();
                throw;
            }
        });
    }

    /// <summary>What segment s's reduction sends: its gradient, preceded for a tied head by the head's part of the
    /// embedding's (sent as one more contribution to segment 0, never its last of the step).</summary>
    private GradientPart[] ReductionParts(int s)
    {
        var two = _shards.Length == 2;
        var main = new GradientPart(s, _grads[0][two ? s % 2 : 0], two ? _grads[1][s % 2] : null, CanBeLast: true);
        if (s != _headSegment || !_cfg.TiedEmbedding) return [main];
        return [new GradientPart(0, _embedGrads[0], two ? _embedGrads[1] : null, CanBeLast: false), main];
    }

    private ReadOnlySpan<float> Span(float[]? buffer, int segment) =>
        buffer is null ? [] : buffer.AsSpan(0, (int)_layout.Segments[segment].Count);

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
    private int BeginReduction(int s)
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

    private void RunReductionTask(int s, int task)
    {
        var parts = _reduceParts[s];
        var j = parts.Length - 1;
        while (_partFirstTask[s][j] > task) j--;
        var part = parts[j];
        _store.AccumulateGradientChunk(part.Segment, task - _partFirstTask[s][j], Span(part.First, part.Segment), Span(part.Second, part.Segment));
    }

    private void EndReduction(int s)
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

    /// <summary>Rows [b0 T, (b0 + nb) T) of a (BT, width) tensor.</summary>
    private Span<float> Rows(float[] tensor, int width, int shard) =>
        tensor.AsSpan(_shards[shard].B0 * SeqLen * width, _shards[shard].Nb * SeqLen * width);

    /// <summary>Forward pass over inputs (B, T); with targets (B, T) returns the mean cross-entropy loss, else NaN.</summary>
    public float Forward(int[] inputs, int[]? targets)
    {
        Start(inputs, targets);
        RunStages(ForwardStages);
        return MeanLoss();
    }

    /// <summary>Forward then Backward on one micro-batch, returning its mean loss; when the shards run free, as one pass
    /// (a shard goes from its head's forward straight into the backward instead of waiting for the other at the turn).</summary>
    public float TrainPass(int[] inputs, int[] targets, bool lastPassOfStep)
    {
        if (!FreeRunning)
        {
            var loss = Forward(inputs, targets);
            Backward(lastPassOfStep);
            return loss;
        }
        Start(inputs, targets);
        _lastPass = lastPassOfStep;
        RunStages([.. ForwardStages, .. BackwardStages]);
        EmbeddingBackward();
        return MeanLoss();
    }

    private void Start(int[] inputs, int[]? targets)
    {
        CheckTokens(inputs, "inputs");
        if (targets is not null) CheckTokens(targets, "targets");
        _inputs = inputs;
        _targets = targets ?? [];
    }

    private float MeanLoss()
    {
        if (_targets.Length == 0) return float.NaN;
        var bt = Batch * SeqLen;
        double sum = 0;
        for (var i = 0; i < bt; i++) sum += _losses[i];
        return (float)(sum / bt);
    }

    /// <summary>One shard's rows through segment s: the embedding, a block, or the head with its softmax and losses.</summary>
    private void ForwardSegment(int shard, int s, float[] w)
    {
        int t = SeqLen, c = _cfg.Channels;
        var (b0, nb) = _shards[shard];
        if (s == 0)
        {
            var embed = _layout.Embedding;
            var wte = w.AsSpan((int)embed["wte"].Offset, (int)embed["wte"].Count);
            var wpe = embed.Has("wpe") ? w.AsSpan((int)embed["wpe"].Offset, (int)embed["wpe"].Count) : [];
            Encoder.Forward(Rows(_encoded, c, shard), _inputs.AsSpan(b0 * t, nb * t), wte, wpe, nb, t, c);
        }
        else if (s == _headSegment) HeadForward(shard, w);
        else
        {
            var l = s - 1;
            _blocks[l].ForwardShard(_acts[l], l == 0 ? _encoded : _acts[l - 1].Output, w, b0, nb, t);
        }
    }

    private void HeadForward(int shard, float[] w)
    {
        int n = _shards[shard].Nb * SeqLen, c = _cfg.Channels, v = _cfg.VocabSize, vp = _cfg.PaddedVocabSize;
        var head = _layout.Head;
        var last = _cfg.Layers == 0 ? _encoded : _acts[^1].Output;
        var lnf = Rows(_lnf, c, shard);
        var logits = Rows(_logits, vp, shard);
        var probs = Rows(_probs, vp, shard);
        LayerNorm.Forward(lnf, Rows(_lnfMean, 1, shard), Rows(_lnfRstd, 1, shard), Rows(last, c, shard), Slice(w, head["lnf.w"]), Slice(w, head["lnf.b"]), n, c);
        Linear.Forward(logits, lnf, UnembeddingWeights(w), head.Has("lm_head.b") ? Slice(w, head["lm_head.b"]) : [], n, c, vp);
        CrossEntropy.SoftmaxForward(probs, logits, n, v, vp);
        if (_targets.Length > 0) CrossEntropy.LossForward(Rows(_losses, 1, shard), probs, _targets.AsSpan(_shards[shard].B0 * SeqLen, n), n, vp);
    }

    private ReadOnlySpan<float> UnembeddingWeights(float[] headWeights) =>
        _cfg.TiedEmbedding ? _embedForHead.AsSpan((int)_layout.Embedding["wte"].Offset, (int)_layout.Embedding["wte"].Count)
                           : Slice(headWeights, _layout.Head["lm_head.w"]);

    private static Span<float> Slice(float[] buffer, TensorSlot slot) => buffer.AsSpan((int)slot.Offset, (int)slot.Count);

    private void CheckTokens(int[] tokens, string what)
    {
        if (tokens.Length != Batch * SeqLen) throw new ArgumentException($"{what} must hold B*T = {Batch * SeqLen} tokens (has {tokens.Length})");
        foreach (var tok in tokens)
            if (tok < 0 || tok >= _cfg.VocabSize) throw new ArgumentException($"{what}: token {tok} is outside the vocabulary of {_cfg.VocabSize}");
    }

    /// <summary>Probabilities over the real vocabulary for position (b, t) of the last forward pass.</summary>
    public ReadOnlySpan<float> Probabilities(int b, int t) => _probs.AsSpan((b * SeqLen + t) * _cfg.PaddedVocabSize, _cfg.VocabSize);

    /// <summary>Backward of the last forward pass (which needs targets): streams weights again in reverse order and sends
    /// each segment's gradient of the mean loss to MemoryX. lastPassOfStep: the step's final micro-batch.</summary>
    public void Backward(bool lastPassOfStep)
    {
        if (_targets.Length == 0) throw new InvalidOperationException("Backward needs a forward pass with targets");
        _lastPass = lastPassOfStep;
        RunStages(BackwardStages);
        EmbeddingBackward();
    }

    /// <summary>dwte, dwpe from d(encoded), which block 0 (or the head) wrote: the head writes _dA, each block the other of
    /// _dA / _dB than it read.</summary>
    private void EmbeddingBackward()
    {
        var dEncoded = _cfg.Layers % 2 == 0 ? _dA : _dB;
        var embed = _layout.Embedding;
        var ge = _grads[0][0].AsSpan(0, (int)embed.Count);
        ge.Clear();
        Encoder.Backward(G(ge, embed["wte"]), embed.Has("wpe") ? G(ge, embed["wpe"]) : [], dEncoded, _inputs, Batch, SeqLen, _cfg.Channels);
        Send(0, ge, _lastPass);
    }

    /// <summary>Shard's gradient buffer for segment s (alternating, so a segment can be reduced while the next is computed).</summary>
    private Span<float> GradientBuffer(int shard, int s) =>
        _grads[shard][_shards.Length == 2 ? s % 2 : 0].AsSpan(0, (int)_layout.Segments[s].Count);

    /// <summary>One shard's rows back through segment s (the head, or a block), its weight gradients into its own buffer.</summary>
    private void BackwardSegment(int shard, int s, float[] w)
    {
        int t = SeqLen, c = _cfg.Channels;
        var (b0, nb) = _shards[shard];
        var g = GradientBuffer(shard, s);
        if (s == _headSegment) HeadBackward(shard, w, g);
        else
        {
            // Block l reads d(its output) from _dA when L-1-l is even (the head wrote _dA) and writes d(its input) to
            // the other buffer.
            var l = s - 1;
            var (dOut, dIn) = (_cfg.Layers - 1 - l) % 2 == 0 ? (_dA, _dB) : (_dB, _dA);
            _blocks[l].BackwardShard(dIn, g, _dActs, dOut, _acts[l], l == 0 ? _encoded : _acts[l - 1].Output, w, b0, nb, t);
        }
    }

    private void HeadBackward(int shard, float[] w, Span<float> g)
    {
        int bt = Batch * SeqLen, n = _shards[shard].Nb * SeqLen, c = _cfg.Channels, v = _cfg.VocabSize, vp = _cfg.PaddedVocabSize;
        var head = _layout.Head;
        var dLogits = Rows(_dLogits, vp, shard);
        var dLosses = Rows(_dLosses, 1, shard);
        var lnf = Rows(_lnf, c, shard);
        dLogits.Clear();
        dLosses.Fill(1f / bt); // d(mean loss)/d(loss_i)
        CrossEntropy.Backward(dLogits, dLosses, Rows(_probs, vp, shard), _targets.AsSpan(_shards[shard].B0 * SeqLen, n), n, v, vp);
        // Every head tensor's gradient is written below, not added (lnf; lm_head.w and its bias when untied: validation
        // keeps a head bias off tied models), so g needs no clearing pass (V x C floats untied).
        var dLnf = Rows(_dB, c, shard);
        Linear.BackwardInput(dLnf, dLogits, UnembeddingWeights(w), n, c, vp, accumulate: false);
        if (_cfg.TiedEmbedding)
        {
            // The unembedding's gradient is written over wte's part (no clearing pass over it: 154 MB for gpt2-124m);
            // the rest of the embedding segment (wpe) gets nothing from the head.
            var gEmbed = _embedGrads[shard].AsSpan();
            var wte = _layout.Embedding["wte"];
            gEmbed[..(int)wte.Offset].Clear();
            gEmbed[(int)(wte.Offset + wte.Count)..].Clear();
            Linear.BackwardWeight(gEmbed.Slice((int)wte.Offset, (int)wte.Count), [], dLogits, lnf, n, c, vp, accumulate: false);
        }
        else
            Linear.BackwardWeight(G(g, head["lm_head.w"]), head.Has("lm_head.b") ? G(g, head["lm_head.b"]) : [], dLogits, lnf, n, c, vp, accumulate: false);
        var last = _cfg.Layers == 0 ? _encoded : _acts[^1].Output;
        LayerNorm.Backward(Rows(_dA, c, shard), G(g, head["lnf.w"]), G(g, head["lnf.b"]), dLnf, Rows(last, c, shard), Slice(w, head["lnf.w"]),
            Rows(_lnfMean, 1, shard), Rows(_lnfRstd, 1, shard), n, c, accumulateWeights: false,
            LayerNorm.InputGradient.Overwrite); // no clearing pass over d(last) first
    }

    private static Span<float> G(Span<float> grads, TensorSlot slot) => grads.Slice((int)slot.Offset, (int)slot.Count);

    private void Send(int s, ReadOnlySpan<float> gradient, bool lastOfStep)
    {
        _store.AccumulateGradient(s, gradient, lastOfStep);
        Interlocked.Add(ref _bytesStreamed, 4L * gradient.Length);
    }
}

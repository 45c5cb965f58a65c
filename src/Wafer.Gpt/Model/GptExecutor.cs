// The weight-streaming executor: runs a GPT forward and backward the way a CS-2 does (docs/design.md §2.3), on host kernels.
// Activations of the pass stay on the "device" (this object); weights arrive from MemoryX one segment at a time
// (embedding, block 0 .. L-1, head) into a device buffer while the next segment is prefetched into a second one;
// each segment's gradients are computed into one device gradient buffer and streamed back to MemoryX at once.
//
// Batch shards (TransformerBlock.Shards): a small model's batch is computed as two halves of its sequences, one per
// core, every product and layer inside a shard single-threaded; the halves' weight gradients go to two buffers summed
// as the segment is handed to MemoryX. When MemoryX is in memory at fp32 (its weights are views, nothing is copied or
// rounded) the two shards run free through the whole pass (RunFree; TrainPass runs forward and backward as one): no
// join per segment, each shard waiting only for what it needs of the other. A segment's weights are fetched (the fetch
// applies the deferred AdamW update) by whichever shard starts the segment before it first; the shard that finishes a
// backward segment second publishes its hand-off as chunk tasks that the other, early shard takes at its next segment
// boundary; and a shard starts segment i only once segment i-2 is finished by both and handed off (its gradient buffers
// are segment i's), so at most three segments' weights are in use (views) and two gradient buffers per shard. A slow
// core at one segment is thus made up at the next instead of holding the other core at a join. A shard that does wait (mostly the early one at the pass's end) runs parts of the
// other's parallel jobs meanwhile: its attention heads, AdamW chunks, and its products, split while the other waits
// (HelpBoard). Otherwise (weights from disk or rounded, one shard, another thread count) segments run in lockstep
// (Stream): both shards of a segment, then its hand-off. The arithmetic is the same in every schedule: results do not
// depend on it. Files: this one, what a pass computes per segment; GptExecutor.Streaming.cs, the lockstep reference
// schedule and the hand-offs to MemoryX; FreeRunningShards.cs, the optional free-running schedule; HostSchedule.cs, the
// threads and schedule passed in.
// B batch, T sequence, C channels, V vocabulary (Vp padded), L layers.
using Wafer.Core;
using Wafer.Gpt.Layers;
using Wafer.Gpt.MemoryX;
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Model;

public sealed partial class GptExecutor : IGptExecutor
{
    private readonly IMemoryXLink _store;
    private readonly GptConfig _cfg;
    private readonly ParameterLayout _layout;
    private readonly TransformerBlock[] _blocks;
    private readonly BlockActivations[] _acts;
    private readonly BlockActivations _dActs;
    private readonly float[] _encoded, _lnf, _lnfMean, _lnfRstd, _logits, _probs, _losses; // (BT,C) x2, (BT) x2, (BT,Vp) x2, (BT)
    private readonly float[] _dA, _dB, _dLogits, _dLosses;                                   // (BT,C) x2, (BT,Vp), (BT)
    private readonly float[][] _weightBuffers = new float[2][];                              // double buffer, largest segment
    private readonly float[] _embedForHead;                                                  // tied models: wte while the head runs
    private float[] _headEmbedding = [];                                                     // _embedForHead, or MemoryX's view
    private readonly float[][][] _grads;              // [shard][segment parity]: shard 0's first is the largest segment
    private readonly float[][] _embedGrads;           // tied models: [shard] the head's part of the embedding gradient
    private readonly (int B0, int Nb)[] _shards;
    private readonly HostSchedule _host;
    private readonly FreeRunningShards? _free;        // the free-running schedule, where it applies (FreeRunning)
    private readonly GradientPart[][] _reduceParts;   // [segment]: what its reduction sends (see ReductionParts)
    private readonly int[][] _partFirstTask;          // [segment][part]: its first chunk task in a free-running reduction
    private bool _lastPass;                           // the backward in progress is its step's last pass

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
    /// <summary>Parts one free-running shard ran for the other while waiting (0 in lockstep; tests check it).</summary>
    internal long PartsHelped => _free?.PartsHelped ?? 0;
    /// <summary>Nothing is simulated at this level.</summary>
    public FabricAccount? Fabric => null;

    public GptExecutor(IMemoryXLink store, int batch, int seqLen, StreamPrecision precision, HostSchedule host)
    {
        if (host.Threads < 1) throw new ArgumentOutOfRangeException(nameof(host), host.Threads, "at least one thread");
        _host = host;
        _store = store;
        _layout = store.Layout;
        _cfg = _layout.Config;
        if (batch < 1 || seqLen < 1 || seqLen > _cfg.MaxSeqLen) throw new ArgumentException($"batch {batch} and sequence {seqLen} must be >= 1, sequence <= {_cfg.MaxSeqLen}");
        Batch = batch;
        SeqLen = seqLen;
        Precision = precision;
        var rotary = _cfg.Positions == PositionEncoding.Rotary ? new Rotary(_cfg.MaxSeqLen, _cfg.RotaryDims, _cfg.RotaryInterleaved) : null;
        _blocks = Enumerable.Range(0, _cfg.Layers).Select(l => new TransformerBlock(_cfg, _layout.Block(l), rotary, host.Threads)).ToArray();
        _acts = new BlockActivations[_cfg.Layers];
        for (var l = 0; l < _cfg.Layers; l++) _acts[l] = new BlockActivations(_cfg, batch, seqLen, shareTemporaries: l == 0 ? null : _acts[0]);
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
        // Tied models hold wte on the device for the head: MemoryX's own array when weights arrive as views of it (in
        // memory, fp32), so a copy of it (154 MB for gpt2-124m) is allocated only when they arrive in a reused buffer.
        _embedForHead = _cfg.TiedEmbedding && !WeightsAreViews ? new float[_layout.Embedding.Count] : [];
        _shards = TransformerBlock.Shards(_cfg, batch);
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
        if (ShardsPaired && WeightsAreViews) _free = new FreeRunningShards(this, 2 * _layout.Segments.Count - 1, host.StageStart);
        var bytesPerWeight = StreamRounding.BytesPerWeight(precision);
        DeviceBytes = _acts.Sum(a => a.Bytes) + _dActs.Bytes
            + 4L * (_encoded.Length + _lnf.Length + _lnfMean.Length + _lnfRstd.Length + _logits.Length + _probs.Length + _losses.Length + _dA.Length + _dB.Length + _dLogits.Length + _dLosses.Length)
            + bytesPerWeight * (2L * largest + (_cfg.TiedEmbedding ? _layout.Embedding.Count : 0)) // wte held for the head, copied or not
            + 4L * (_grads.Sum(p => (long)p[0].Length + p[1].Length) + _embedGrads.Sum(e => (long)e.Length));
    }

    /// <summary>What the constructor would allocate for this model, batch and sequence (the DeviceBytes it reports), and
    /// the longest single array it needs, counted before anything is allocated (admission).</summary>
    public static (long DeviceBytes, long LongestArray) Plan(ParameterLayout layout, int batch, int seqLen, StreamPrecision precision)
    {
        var cfg = layout.Config;
        long bt = (long)batch * seqLen, c = cfg.Channels, vp = cfg.PaddedVocabSize;
        var acts = cfg.Layers * BlockActivations.BytesFor(cfg, batch, seqLen, gradients: false, ownsTemporaries: false)
            + 4 * (BlockActivations.Lengths(cfg, batch, seqLen, false)[13] + BlockActivations.Lengths(cfg, batch, seqLen, false)[14])
            + BlockActivations.BytesFor(cfg, batch, seqLen, gradients: true, ownsTemporaries: true);
        var largest = layout.LargestSegment;
        var headSegment = layout.Segments.Count - 1;
        var largestStreamed = Enumerable.Range(1, headSegment).Max(s => layout.Segments[s].Count);
        var shards = TransformerBlock.Shards(cfg, batch).Length;
        var grads = shards == 2 ? largest + 3 * largestStreamed : largest;
        var embedGrads = cfg.TiedEmbedding ? shards * layout.Embedding.Count : 0;
        var bytes = acts + 4 * (4 * bt * c + 4 * bt + 3 * bt * vp)
            + StreamRounding.BytesPerWeight(precision) * (2 * largest + (cfg.TiedEmbedding ? layout.Embedding.Count : 0))
            + 4 * (grads + embedGrads);
        var longest = new[] { bt * vp, largest, bt * cfg.FfnChannels, bt * 3 * c, CausalAttentionLength(cfg, batch, seqLen) }.Max();
        return (bytes, longest);
    }

    private static long CausalAttentionLength(GptConfig cfg, int batch, int seqLen) => Layers.CausalAttention.AttLength(batch, seqLen, cfg.Heads);

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
        LayerNorm.Forward(lnf, Rows(_lnfMean, 1, shard), Rows(_lnfRstd, 1, shard), Rows(last, c, shard), Slice(w, head["lnf.w"]), Slice(w, head["lnf.b"]), n, c, _host.Threads);
        Linear.Forward(logits, lnf, UnembeddingWeights(w), head.Has("lm_head.b") ? Slice(w, head["lm_head.b"]) : [], n, c, vp, _host.Threads);
        CrossEntropy.SoftmaxForward(probs, logits, n, v, vp, _host.Threads);
        if (_targets.Length > 0) CrossEntropy.LossForward(Rows(_losses, 1, shard), probs, _targets.AsSpan(_shards[shard].B0 * SeqLen, n), n, vp);
    }

    private ReadOnlySpan<float> UnembeddingWeights(float[] headWeights) =>
        _cfg.TiedEmbedding ? _headEmbedding.AsSpan((int)_layout.Embedding["wte"].Offset, (int)_layout.Embedding["wte"].Count)
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
        if (_cfg.TiedEmbedding) AddHeadPart(ge);
        Send(0, ge, _lastPass);
    }

    /// <summary>ge = (head part of shard 0 + shard 1's) + ge, elementwise in fp32: the segment's one term a pass, with the
    /// arithmetic MemoryX used when the head part came as a term of its own (a segment with one term a step is then
    /// taken as it is, not summed exactly: docs/swarmx.md).</summary>
    private void AddHeadPart(Span<float> ge)
    {
        ReadOnlySpan<float> h0 = _embedGrads[0], h1 = _shards.Length == 2 ? _embedGrads[1] : [];
        var n = ge.Length;
        var i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var head = System.Runtime.Intrinsics.Vector256.Create(h0.Slice(i, 8));
            if (!h1.IsEmpty) head += System.Runtime.Intrinsics.Vector256.Create(h1.Slice(i, 8));
            System.Runtime.Intrinsics.Vector256.CopyTo(head + System.Runtime.Intrinsics.Vector256.Create((ReadOnlySpan<float>)ge.Slice(i, 8)), ge.Slice(i, 8));
        }
        for (; i < n; i++) ge[i] = (h1.IsEmpty ? h0[i] : h0[i] + h1[i]) + ge[i];
    }

    /// <summary>Shard's gradient buffer for segment s (alternating, so a segment can be reduced while the next is computed).</summary>
    private float[] GradientArray(int shard, int s) => _grads[shard][_shards.Length == 2 ? s % 2 : 0];

    private Span<float> GradientBuffer(int shard, int s) => GradientArray(shard, s).AsSpan(0, (int)_layout.Segments[s].Count);

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
        CrossEntropy.Backward(dLogits, dLosses, Rows(_probs, vp, shard), _targets.AsSpan(_shards[shard].B0 * SeqLen, n), n, v, vp, _host.Threads);
        // Every head tensor's gradient is written below, not added (lnf; lm_head.w and its bias when untied: validation
        // keeps a head bias off tied models), so g needs no clearing pass (V x C floats untied).
        var dLnf = Rows(_dB, c, shard);
        Linear.BackwardInput(dLnf, dLogits, UnembeddingWeights(w), n, c, vp, _host.Threads, accumulate: false);
        if (_cfg.TiedEmbedding)
        {
            // The unembedding's gradient is written over wte's part (no clearing pass over it: 154 MB for gpt2-124m);
            // the rest of the embedding segment (wpe) gets nothing from the head.
            var gEmbed = _embedGrads[shard].AsSpan();
            var wte = _layout.Embedding["wte"];
            gEmbed[..(int)wte.Offset].Clear();
            gEmbed[(int)(wte.Offset + wte.Count)..].Clear();
            Linear.BackwardWeight(gEmbed.Slice((int)wte.Offset, (int)wte.Count), [], dLogits, lnf, n, c, vp, _host.Threads, accumulate: false);
        }
        else
            Linear.BackwardWeight(G(g, head["lm_head.w"]), head.Has("lm_head.b") ? G(g, head["lm_head.b"]) : [], dLogits, lnf, n, c, vp, _host.Threads, accumulate: false);
        var last = _cfg.Layers == 0 ? _encoded : _acts[^1].Output;
        LayerNorm.Backward(Rows(_dA, c, shard), G(g, head["lnf.w"]), G(g, head["lnf.b"]), dLnf, Rows(last, c, shard), Slice(w, head["lnf.w"]),
            Rows(_lnfMean, 1, shard), Rows(_lnfRstd, 1, shard), n, c, _host.Threads, accumulateWeights: false,
            LayerNorm.InputGradient.Overwrite); // no clearing pass over d(last) first
    }

    private static Span<float> G(Span<float> grads, TensorSlot slot) => grads.Slice((int)slot.Offset, (int)slot.Count);

    private void Send(int s, ReadOnlySpan<float> gradient, bool lastOfStep)
    {
        _store.AccumulateGradient(s, gradient, lastOfStep);
        Interlocked.Add(ref _bytesStreamed, 4L * gradient.Length);
    }
}

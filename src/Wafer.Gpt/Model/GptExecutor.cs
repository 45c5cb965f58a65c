// The weight-streaming executor: runs a GPT forward and backward the way a CS-2 does (DESIGN.md §2.3), on host kernels.
// Activations of the pass stay on the "device" (this object); weights arrive from MemoryX one segment at a time
// (embedding, block 0 .. L-1, head) into a device buffer while the next segment is prefetched into a second one;
// each segment's gradients are computed into one device gradient buffer and streamed back to MemoryX at once.
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
    private readonly float[] _dA, _dB, _dLogits;                                             // (BT,C) x2, (BT,Vp)
    private readonly float[][] _weightBuffers = new float[2][];                              // double buffer, largest segment
    private readonly float[] _embedForHead;                                                  // tied models: wte while the head runs
    private readonly float[] _grad, _embedGrad;                                              // largest segment; tied: embedding
    private readonly float[] _grad2;                                                         // largest block: its second batch shard
    private int[] _inputs = [], _targets = [];
    private readonly int _headSegment;

    public int Batch { get; }
    public int SeqLen { get; }
    public StreamPrecision Precision { get; }
    /// <summary>Weight bytes (at stream precision) and gradient bytes (fp32) between MemoryX and the device since construction.</summary>
    public long BytesStreamed => Interlocked.Read(ref _bytesStreamed);
    private long _bytesStreamed; // added to by the prefetch thread and the main thread
    /// <summary>What the device holds at its peak: activations, their gradients, weight buffers, gradient buffers.</summary>
    public long DeviceBytes { get; }

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
        _dA = new float[bt * c]; _dB = new float[bt * c]; _dLogits = new float[bt * vp];
        var largest = checked((int)_layout.LargestSegment);
        _headSegment = _layout.Segments.Count - 1;
        _weightBuffers[0] = new float[largest];
        _weightBuffers[1] = new float[largest];
        _embedForHead = _cfg.TiedEmbedding ? new float[_layout.Embedding.Count] : [];
        _grad = new float[largest];
        var largestBlock = Enumerable.Range(1, _cfg.Layers).Select(s => _layout.Segments[s].Count).DefaultIfEmpty(0).Max();
        _grad2 = TransformerBlock.Shards(_cfg, batch).Length == 2 ? new float[checked((int)largestBlock)] : [];
        _embedGrad = _cfg.TiedEmbedding ? new float[_layout.Embedding.Count] : [];
        var bytesPerWeight = StreamRounding.BytesPerWeight(precision);
        DeviceBytes = _acts.Sum(a => a.Bytes) + _dActs.Bytes
            + 4L * (_encoded.Length + _lnf.Length + _lnfMean.Length + _lnfRstd.Length + _logits.Length + _probs.Length + _losses.Length + _dA.Length + _dB.Length + _dLogits.Length)
            + bytesPerWeight * (2L * largest + _embedForHead.Length) + 4L * (_grad.Length + _grad2.Length + _embedGrad.Length);
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

    /// <summary>Streams segments in the given order, calling use(segment index, weights) for each while the next one is
    /// fetched on another thread into the other buffer. The fetch only reads MemoryX; use only touches the device.</summary>
    private void Stream(IReadOnlyList<int> order, Action<int, float[]> use)
    {
        var current = Receive(order[0], _weightBuffers[0]);
        for (var i = 0; i < order.Count; i++)
        {
            Task<float[]>? next = null;
            if (i + 1 < order.Count)
            {
                var s = order[i + 1];
                var buffer = _weightBuffers[(i + 1) % 2];
                // In-memory MemoryX serves views: nothing to overlap, and its (parallel) optimizer update runs inline.
                next = _store.IsInMemory ? Task.FromResult(Receive(s, buffer)) : Task.Run(() => Receive(s, buffer));
            }
            use(order[i], current);
            if (next is not null) current = next.GetAwaiter().GetResult();
        }
    }

    /// <summary>Forward pass over inputs (B, T); with targets (B, T) returns the mean cross-entropy loss, else NaN.</summary>
    public float Forward(int[] inputs, int[]? targets)
    {
        int b = Batch, t = SeqLen, c = _cfg.Channels, v = _cfg.VocabSize, vp = _cfg.PaddedVocabSize, bt = b * t;
        CheckTokens(inputs, "inputs");
        if (targets is not null) CheckTokens(targets, "targets");
        _inputs = inputs;
        _targets = targets ?? [];
        Stream(Enumerable.Range(0, _layout.Segments.Count).ToArray(), (s, w) =>
        {
            if (s == 0)
            {
                var embed = _layout.Embedding;
                var wte = w.AsSpan((int)embed["wte"].Offset, (int)embed["wte"].Count);
                var wpe = embed.Has("wpe") ? w.AsSpan((int)embed["wpe"].Offset, (int)embed["wpe"].Count) : [];
                Encoder.Forward(_encoded, inputs, wte, wpe, b, t, c);
                if (_cfg.TiedEmbedding) wte.CopyTo(_embedForHead); // held on the device until the head has run
            }
            else if (s == _headSegment) HeadForward(w);
            else
            {
                var l = s - 1;
                _blocks[l].Forward(_acts[l], l == 0 ? _encoded : _acts[l - 1].Output, w, b, t);
            }
        });
        CrossEntropy.SoftmaxForward(_probs, _logits, bt, v, vp);
        if (targets is null) return float.NaN;
        CrossEntropy.LossForward(_losses, _probs, targets, bt, vp);
        double sum = 0;
        for (var i = 0; i < bt; i++) sum += _losses[i];
        return (float)(sum / bt);
    }

    private void HeadForward(float[] w)
    {
        int bt = Batch * SeqLen, c = _cfg.Channels, vp = _cfg.PaddedVocabSize;
        var head = _layout.Head;
        var last = _cfg.Layers == 0 ? _encoded : _acts[^1].Output;
        LayerNorm.Forward(_lnf, _lnfMean, _lnfRstd, last, Slice(w, head["lnf.w"]), Slice(w, head["lnf.b"]), bt, c);
        Linear.Forward(_logits, _lnf, UnembeddingWeights(w), head.Has("lm_head.b") ? Slice(w, head["lm_head.b"]) : [], bt, c, vp);
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
        int b = Batch, t = SeqLen, c = _cfg.Channels, v = _cfg.VocabSize, vp = _cfg.PaddedVocabSize, bt = b * t;
        Array.Clear(_dLogits);
        Array.Fill(_losses, 1f / bt); // d(mean loss)/d(loss_i), reusing the loss buffer
        CrossEntropy.Backward(_dLogits, _losses, _probs, _targets, bt, v, vp);
        var dOut = _dA;
        var dIn = _dB;
        // Head first, then blocks L-1 .. 0; the embedding needs no weights for its backward, only the tokens.
        var order = Enumerable.Range(1, _cfg.Layers + 1).Reverse().ToArray();
        Stream(order, (s, w) =>
        {
            var count = (int)_layout.Segments[s].Count;
            var g = _grad.AsSpan(0, count);
            if (s == _headSegment)
            {
                var head = _layout.Head;
                // Every head tensor's gradient is written below, not added (lnf; lm_head.w and its bias when untied:
                // validation keeps a head bias off tied models), so g needs no clearing pass (V x C floats untied).
                var dLnf = dIn;
                Linear.BackwardInput(dLnf, _dLogits, UnembeddingWeights(w), bt, c, vp, accumulate: false);
                if (_cfg.TiedEmbedding)
                {
                    // The unembedding's gradient is written over wte's part (no clearing pass over it: 154 MB for
                    // gpt2-124m); the rest of the embedding segment (wpe) gets nothing from the head.
                    var gEmbed = _embedGrad.AsSpan();
                    var wte = _layout.Embedding["wte"];
                    gEmbed[..(int)wte.Offset].Clear();
                    gEmbed[(int)(wte.Offset + wte.Count)..].Clear();
                    Linear.BackwardWeight(gEmbed.Slice((int)wte.Offset, (int)wte.Count), [], _dLogits, _lnf, bt, c, vp, accumulate: false);
                    Send(0, gEmbed, lastOfStep: false);
                }
                else
                    Linear.BackwardWeight(G(g, head["lm_head.w"]), head.Has("lm_head.b") ? G(g, head["lm_head.b"]) : [], _dLogits, _lnf, bt, c, vp, accumulate: false);
                var last = _cfg.Layers == 0 ? _encoded : _acts[^1].Output;
                LayerNorm.Backward(dOut, G(g, head["lnf.w"]), G(g, head["lnf.b"]), dLnf, last, Slice(w, head["lnf.w"]), _lnfMean, _lnfRstd, bt, c, accumulateWeights: false,
                    LayerNorm.InputGradient.Overwrite); // no clearing pass over dOut first
            }
            else
            {
                var l = s - 1;
                _blocks[l].Backward(dIn, _grad, _grad2, count, _dActs, dOut, _acts[l], l == 0 ? _encoded : _acts[l - 1].Output, w, b, t);
                (dOut, dIn) = (dIn, dOut);
            }
            Send(s, g, lastPassOfStep);
        });
        // Embedding: dwte, dwpe from dOut = d(encoded).
        var embed = _layout.Embedding;
        var ge = _grad.AsSpan(0, (int)embed.Count);
        ge.Clear();
        Encoder.Backward(G(ge, embed["wte"]), embed.Has("wpe") ? G(ge, embed["wpe"]) : [], dOut, _inputs, b, t, c);
        Send(0, ge, lastPassOfStep);
    }

    private static Span<float> G(Span<float> grads, TensorSlot slot) => grads.Slice((int)slot.Offset, (int)slot.Count);

    private void Send(int s, ReadOnlySpan<float> gradient, bool lastOfStep)
    {
        _store.AccumulateGradient(s, gradient, lastOfStep);
        Interlocked.Add(ref _bytesStreamed, 4L * gradient.Length);
    }
}

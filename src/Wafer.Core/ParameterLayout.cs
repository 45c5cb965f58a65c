// The model's parameters as named tensors grouped into segments, the unit MemoryX streams: the embedding, one segment
// per transformer block, and the head (final LayerNorm and, when untied, lm_head). Offsets are within a segment.
namespace Wafer.Core;

/// <summary>One tensor: row-major shape, offset inside its segment; Decay marks the 2-D matrices that weight decay applies to.</summary>
public sealed record TensorSlot(string Name, long[] Shape, long Offset, bool Decay)
{
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);
}

public sealed class Segment(string name, IReadOnlyList<TensorSlot> tensors)
{
    public string Name { get; } = name;
    public IReadOnlyList<TensorSlot> Tensors { get; } = tensors;
    public long Count { get; } = tensors.Sum(t => t.Count);
    public TensorSlot this[string tensor] => Tensors.FirstOrDefault(t => t.Name == tensor) ?? throw new KeyNotFoundException($"segment {Name} has no tensor {tensor}");
    public bool Has(string tensor) => Tensors.Any(t => t.Name == tensor);
}

public sealed class ParameterLayout
{
    public GptConfig Config { get; }
    /// <summary>Segments in stream order: [0] embedding, [1 .. L] blocks, [L + 1] head.</summary>
    public IReadOnlyList<Segment> Segments { get; }
    public long Count { get; }
    public Segment Embedding => Segments[0];
    public Segment Block(int layer) => Segments[1 + layer];
    public Segment Head => Segments[^1];
    public long LargestSegment => Segments.Max(s => s.Count);

    public ParameterLayout(GptConfig cfg)
    {
        Config = cfg;
        long c = cfg.Channels, f = cfg.FfnChannels, vp = cfg.PaddedVocabSize;
        var segments = new List<Segment>();
        var embed = new Builder();
        embed.Add("wte", [vp, c], decay: true);
        if (cfg.Positions == PositionEncoding.Learned) embed.Add("wpe", [cfg.MaxSeqLen, c], decay: true);
        segments.Add(new Segment("embed", embed.Slots));
        for (var l = 0; l < cfg.Layers; l++)
        {
            var b = new Builder();
            b.Add("ln1.w", [c]); b.Add("ln1.b", [c]);
            if (!cfg.SharedBlockNorm) { b.Add("ln2.w", [c]); b.Add("ln2.b", [c]); }
            b.Add("qkv.w", [3 * c, c], decay: true);
            if (cfg.AttentionBias) b.Add("qkv.b", [3 * c]);
            b.Add("attproj.w", [c, c], decay: true);
            if (cfg.AttentionBias) b.Add("attproj.b", [c]);
            b.Add("fc.w", [f, c], decay: true); b.Add("fc.b", [f]);
            b.Add("fcproj.w", [c, f], decay: true); b.Add("fcproj.b", [c]);
            segments.Add(new Segment($"h.{l}", b.Slots));
        }
        var head = new Builder();
        head.Add("lnf.w", [c]); head.Add("lnf.b", [c]);
        if (!cfg.TiedEmbedding) head.Add("lm_head.w", [vp, c], decay: true);
        if (cfg.HeadBias) head.Add("lm_head.b", [vp]);
        segments.Add(new Segment("head", head.Slots));
        Segments = segments;
        Count = segments.Sum(s => s.Count);
    }

    private sealed class Builder
    {
        public readonly List<TensorSlot> Slots = [];
        private long _at;
        public void Add(string name, long[] shape, bool decay = false)
        {
            var slot = new TensorSlot(name, shape, _at, decay);
            Slots.Add(slot);
            _at += slot.Count;
        }
    }

    /// <summary>Parameters as the model's source publishes them: the real vocabulary only (padding rows excluded), and
    /// for a sharded source (PublishedShards S > 1, mesh-transformer-jax for GPT-J) the S - 1 extra replicas of every
    /// LayerNorm and MLP output bias plus S input-projection biases of C that its shards hold. GPT-J 6B: 6,050,882,784
    /// distinct + 2,498,560 replicated = the published 6,053,381,344.</summary>
    public static long PublishedCount(GptConfig cfg)
    {
        var layout = new ParameterLayout(cfg);
        long c = cfg.Channels, pad = cfg.PaddedVocabSize - cfg.VocabSize;
        var distinct = layout.Count - pad * c * (cfg.TiedEmbedding ? 1 : 2) - (cfg.HeadBias ? pad : 0);
        if (cfg.PublishedShards == 1) return distinct;
        long normsPerBlock = cfg.SharedBlockNorm ? 2 * c : 4 * c;
        var replicatedPerShard = cfg.Layers * (normsPerBlock + c) + 2 * c;
        return distinct + (cfg.PublishedShards - 1) * replicatedPerShard + cfg.PublishedShards * c;
    }
}

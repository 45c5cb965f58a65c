// The shape of a GPT-family model: GPT-2/3 (learned positions, sequential pre-LN blocks, tied embedding) and
// GPT-J / GPT-NeoX (rotary positions, parallel attention + MLP residual, separate unembedding). One record, llm.c style.
namespace Wafer.Core;

public enum PositionEncoding { Learned, Rotary }

public sealed record GptConfig
{
    /// <summary>Preset or file name, for reports, e.g. "gpt2-124m".</summary>
    public string Name { get; init; } = "custom";
    /// <summary>Layers L, e.g. 12 for gpt2-124m.</summary>
    public int Layers { get; init; } = 4;
    /// <summary>Channels C (d_model), e.g. 768.</summary>
    public int Channels { get; init; } = 128;
    /// <summary>Attention heads NH, e.g. 12; C must be a multiple.</summary>
    public int Heads { get; init; } = 4;
    /// <summary>MLP hidden width F (d_ffn), e.g. 3072 = 4C.</summary>
    public int FfnChannels { get; init; } = 512;
    /// <summary>Vocabulary V, e.g. 50257.</summary>
    public int VocabSize { get; init; } = 65;
    /// <summary>Vocabulary padded for speed (Vp), e.g. 50304; the extra rows are never targets.</summary>
    public int PaddedVocabSize { get; init; } = 65;
    /// <summary>Maximum sequence length, e.g. 1024 (rows of the learned position table).</summary>
    public int MaxSeqLen { get; init; } = 64;
    /// <summary>Learned absolute positions (GPT-2/3) or rotary embeddings on q and k (GPT-J, NeoX).</summary>
    public PositionEncoding Positions { get; init; } = PositionEncoding.Learned;
    /// <summary>Rotary: leading dimensions of each head that rotate, e.g. 64 of 256 (GPT-J) or 24 of 96 (NeoX, 25 %).</summary>
    public int RotaryDims { get; init; }
    /// <summary>Rotary pairs (2i, 2i+1) as GPT-J's rotate_every_two (true), or (i, i + d/2) as NeoX's rotate_half.</summary>
    public bool RotaryInterleaved { get; init; }
    /// <summary>x + attn(ln1 x) + mlp(ln x) in one residual add (GPT-J, NeoX) instead of two sequential ones.</summary>
    public bool ParallelResidual { get; init; }
    /// <summary>Parallel blocks only: one LayerNorm feeds attention and MLP (GPT-J); NeoX has two.</summary>
    public bool SharedBlockNorm { get; init; }
    /// <summary>Logits use the token embedding (GPT-2/3) instead of a separate lm_head matrix.</summary>
    public bool TiedEmbedding { get; init; } = true;
    /// <summary>Biases on qkv and attention output projections (GPT-J has none).</summary>
    public bool AttentionBias { get; init; } = true;
    /// <summary>A bias on the untied lm_head (GPT-J has one).</summary>
    public bool HeadBias { get; init; }
    /// <summary>Model-parallel shards of the implementation a published count comes from; 1 = count each tensor once.
    /// mesh-transformer-jax (GPT-J's source, 8 shards) counts every shard's replica of the LayerNorms and MLP output bias
    /// plus a per-shard input-projection bias; see ParameterLayout.PublishedCount.</summary>
    public int PublishedShards { get; init; } = 1;

    public int HeadSize => Channels / Math.Max(1, Heads);

    public const int MaxLayers = 4096, MaxChannels = 1 << 17, MaxFfnChannels = 1 << 20, MaxVocab = 1 << 24, MaxSequence = 1 << 20;

    private static void Bound(List<string> errors, string name, int value, int max)
    {
        if (value > max) errors.Add($"{name} must be <= {max:N0} (is {value:N0})");
    }

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Layers < 1) errors.Add($"{nameof(Layers)} must be >= 1 (is {Layers})");
        if (Channels < 1) errors.Add($"{nameof(Channels)} must be >= 1 (is {Channels})");
        if (Heads < 1 || Channels % Math.Max(1, Heads) != 0) errors.Add($"{nameof(Heads)} must divide {nameof(Channels)} ({Channels} / {Heads})");
        if (FfnChannels < 1) errors.Add($"{nameof(FfnChannels)} must be >= 1 (is {FfnChannels})");
        if (VocabSize < 2) errors.Add($"{nameof(VocabSize)} must be >= 2 (is {VocabSize})");
        if (PaddedVocabSize < VocabSize) errors.Add($"{nameof(PaddedVocabSize)} must be >= {nameof(VocabSize)} ({PaddedVocabSize} < {VocabSize})");
        if (MaxSeqLen < 1) errors.Add($"{nameof(MaxSeqLen)} must be >= 1 (is {MaxSeqLen})");
        if (Positions == PositionEncoding.Rotary && (RotaryDims < 2 || RotaryDims % 2 != 0 || RotaryDims > HeadSize))
            errors.Add($"{nameof(RotaryDims)} must be even, >= 2 and <= the head size {HeadSize} for rotary positions (is {RotaryDims})");
        if (Positions == PositionEncoding.Learned && RotaryDims != 0) errors.Add($"{nameof(RotaryDims)} must be 0 with learned positions (is {RotaryDims})");
        if (SharedBlockNorm && !ParallelResidual) errors.Add($"{nameof(SharedBlockNorm)} needs {nameof(ParallelResidual)}");
        if (HeadBias && TiedEmbedding) errors.Add($"{nameof(HeadBias)} needs an untied lm_head ({nameof(TiedEmbedding)} false)");
        if (PublishedShards < 1) errors.Add($"{nameof(PublishedShards)} must be >= 1 (is {PublishedShards})");
        // Bounds far past any published model (PaLM 540B: 118 layers, 18,432 channels, 73,728 ffn; vocabularies of
        // 256 K), which keep every count of the layout and the models exact in 64-bit arithmetic.
        Bound(errors, nameof(Layers), Layers, MaxLayers);
        Bound(errors, nameof(Channels), Channels, MaxChannels);
        Bound(errors, nameof(FfnChannels), FfnChannels, MaxFfnChannels);
        Bound(errors, nameof(PaddedVocabSize), PaddedVocabSize, MaxVocab);
        Bound(errors, nameof(MaxSeqLen), MaxSeqLen, MaxSequence);
        Bound(errors, nameof(PublishedShards), PublishedShards, 1024);
        if (string.IsNullOrWhiteSpace(Name)) errors.Add($"{nameof(Name)} must not be empty");
        else if (Name.Length > 200) errors.Add($"{nameof(Name)} is longer than 200 characters");
        return errors;
    }
}

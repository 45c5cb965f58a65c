// The shape of a GPT-2/GPT-3-family model (learned positions, sequential pre-LN blocks, tied embedding), llm.c style.
// Rotary / parallel-residual models (GPT-J, GPT-NeoX) are not covered yet.
namespace Wafer.Gpt;

public sealed record GptConfig
{
    /// <summary>Layers L, e.g. 12 for gpt2-124m.</summary>
    public int Layers { get; init; } = 4;
    /// <summary>Channels C (d_model), e.g. 768.</summary>
    public int Channels { get; init; } = 128;
    /// <summary>Attention heads NH, e.g. 12; C must be a multiple.</summary>
    public int Heads { get; init; } = 4;
    /// <summary>Vocabulary V, e.g. 50257.</summary>
    public int VocabSize { get; init; } = 65;
    /// <summary>Vocabulary padded for speed (Vp), e.g. 50304; the extra rows are never targets.</summary>
    public int PaddedVocabSize { get; init; } = 65;
    /// <summary>Maximum sequence length (rows of the position table), e.g. 1024.</summary>
    public int MaxSeqLen { get; init; } = 64;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Layers < 1) errors.Add($"{nameof(Layers)} must be >= 1 (is {Layers})");
        if (Channels < 1) errors.Add($"{nameof(Channels)} must be >= 1 (is {Channels})");
        if (Heads < 1 || Channels % Math.Max(1, Heads) != 0) errors.Add($"{nameof(Heads)} must divide {nameof(Channels)} ({Channels} / {Heads})");
        if (VocabSize < 2) errors.Add($"{nameof(VocabSize)} must be >= 2 (is {VocabSize})");
        if (PaddedVocabSize < VocabSize) errors.Add($"{nameof(PaddedVocabSize)} must be >= {nameof(VocabSize)} ({PaddedVocabSize} < {VocabSize})");
        if (MaxSeqLen < 1) errors.Add($"{nameof(MaxSeqLen)} must be >= 1 (is {MaxSeqLen})");
        return errors;
    }
}

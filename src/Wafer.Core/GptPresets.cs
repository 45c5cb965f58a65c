// The model presets of docs/sources.md §8, with the sources of their shapes. Counts are tested against the
// published figures in GptConfigTests.
namespace Wafer.Core;

public static class GptPresets
{
    // nanoGPT README, CPU recipe: n_layer 4, n_head 4, n_embd 128, block 64, character vocabulary of tiny Shakespeare.
    public static readonly GptConfig Nano = new() { Name = "nano", Layers = 4, Channels = 128, Heads = 4, FfnChannels = 512, VocabSize = 65, PaddedVocabSize = 65, MaxSeqLen = 64 };
    // nanoGPT config/train_shakespeare_char.py: 6 layers, 6 heads, 384 channels, block 256.
    public static readonly GptConfig ShakespeareChar = new() { Name = "shakespeare-char", Layers = 6, Channels = 384, Heads = 6, FfnChannels = 1536, VocabSize = 65, PaddedVocabSize = 65, MaxSeqLen = 256 };
    // GPT-2 small as llm.c trains it (vocabulary padded to 50304).
    public static readonly GptConfig Gpt2_124M = new() { Name = "gpt2-124m", Layers = 12, Channels = 768, Heads = 12, FfnChannels = 3072, VocabSize = 50257, PaddedVocabSize = 50304, MaxSeqLen = 1024 };
    // Cerebras modelzoo gpt3/configs/params_gpt3_xl.yaml.
    public static readonly GptConfig Gpt3Xl = new() { Name = "gpt3-xl", Layers = 24, Channels = 2048, Heads = 16, FfnChannels = 8192, VocabSize = 50257, PaddedVocabSize = 50257, MaxSeqLen = 2048 };
    // modelzoo gptj/configs/params_gptj_6B.yaml and mesh-transformer-jax: rotary on 64 of 256 head dims (rotate_every_two),
    // one LayerNorm per parallel block, no attention biases, untied lm_head with bias, vocabulary 50400.
    public static readonly GptConfig GptJ6B = new()
    {
        Name = "gptj-6b", Layers = 28, Channels = 4096, Heads = 16, FfnChannels = 16384, VocabSize = 50400, PaddedVocabSize = 50400, MaxSeqLen = 2048,
        Positions = PositionEncoding.Rotary, RotaryDims = 64, RotaryInterleaved = true, ParallelResidual = true, SharedBlockNorm = true,
        TiedEmbedding = false, AttentionBias = false, HeadBias = true, PublishedShards = 8,
    };
    // modelzoo gpt3/configs/params_gpt3_13b.yaml.
    public static readonly GptConfig Gpt3_13B = new() { Name = "gpt3-13b", Layers = 40, Channels = 5120, Heads = 40, FfnChannels = 20480, VocabSize = 50257, PaddedVocabSize = 50257, MaxSeqLen = 2048 };
    // EleutherAI gpt-neox configs/20B.yml: rotary on 25 % of the 96 head dims (rotate_half), two LayerNorms per parallel
    // block, untied unembedding without bias, vocabulary padded to 50432.
    public static readonly GptConfig GptNeoX20B = new()
    {
        Name = "gpt-neox-20b", Layers = 44, Channels = 6144, Heads = 64, FfnChannels = 24576, VocabSize = 50432, PaddedVocabSize = 50432, MaxSeqLen = 2048,
        Positions = PositionEncoding.Rotary, RotaryDims = 24, ParallelResidual = true, TiedEmbedding = false,
    };

    public static IReadOnlyList<GptConfig> All { get; } = [Nano, ShakespeareChar, Gpt2_124M, Gpt3Xl, GptJ6B, Gpt3_13B, GptNeoX20B];

    public static GptConfig? Find(string name) => All.FirstOrDefault(p => p.Name == name);
}

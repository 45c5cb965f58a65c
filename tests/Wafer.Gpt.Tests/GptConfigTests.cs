using Wafer.Core;

namespace Wafer.Gpt.Tests;

public class GptConfigTests
{
    [Theory]
    [InlineData("nano", 809_856L)]                    // 4 x (12C^2 + 13C) + (65 + 64) C + 2C, C = 128 (~0.8 M)
    [InlineData("shakespeare-char", 10_770_816L)]     // nanoGPT prints 10.65 M: it leaves out the 98,304 position weights
    [InlineData("gpt2-124m", 124_439_808L)]           // GPT-2 small, published
    [InlineData("gpt3-xl", 1_315_723_264L)]           // 12LC^2 + 13LC + (V + T)C + 2C
    [InlineData("gptj-6b", 6_053_381_344L)]           // mesh-transformer-jax README
    [InlineData("gpt3-13b", 12_853_386_240L)]         // 12LC^2 + 13LC + (V + T)C + 2C = 12.85 B (docs/sources.md §8)
    [InlineData("gpt-neox-20b", 20_554_567_680L)]     // EleutherAI, published
    public void Preset_ReproducesThePublishedParameterCount(string name, long expected)
    {
        var cfg = GptPresets.Find(name)!;
        Assert.Empty(cfg.Validate());
        Assert.Equal(expected, ParameterLayout.PublishedCount(cfg));
    }

    [Fact]
    public void GptJ_DistinctParametersAreTheHuggingFaceCount()
    {
        // 6,050,882,784 tensors once each (HF GPT-J); the published count adds mesh-transformer-jax's shard replicas.
        Assert.Equal(6_050_882_784L, ParameterLayout.PublishedCount(GptPresets.GptJ6B with { PublishedShards = 1 }));
        Assert.Equal(6_050_882_784L, new ParameterLayout(GptPresets.GptJ6B).Count);
    }

    [Fact]
    public void PaddedVocabulary_AddsRowsToTheLayoutButNotThePublishedCount()
    {
        var cfg = GptPresets.Gpt2_124M;
        Assert.Equal(124_439_808L + (50304 - 50257) * 768L, new ParameterLayout(cfg).Count);
    }

    [Fact]
    public void Validate_ListsEveryError()
    {
        var bad = new GptConfig { Layers = 0, Heads = 3, Positions = PositionEncoding.Rotary, RotaryDims = 7, SharedBlockNorm = true };
        var errors = bad.Validate();
        Assert.Equal(4, errors.Count);
        Assert.Contains(errors, e => e.Contains("Layers"));
        Assert.Contains(errors, e => e.Contains("RotaryDims"));
    }
}

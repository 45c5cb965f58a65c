namespace Wafer.Gpt.Tests;

[Collection("Gemm.Threads")]
public class GptModelTests
{
    private static readonly GptConfig Tiny = new() { Layers = 2, Channels = 8, Heads = 2, VocabSize = 11, PaddedVocabSize = 12, MaxSeqLen = 6 };

    [Theory]
    [InlineData(12, 768, 12, 50257, 50304, 1024, 124_439_808L)]   // GPT-2 124M (published)
    [InlineData(24, 2048, 16, 50257, 50257, 2048, 1_315_723_264L)] // GPT-3 XL: 12LC^2 + 13LC + (V + T)C + 2C
    [InlineData(4, 128, 4, 65, 65, 64, 809_856L)]                  // nanoGPT's CPU recipe (~0.8 M)
    public void ParameterCount_MatchesTheClosedForm(int l, int c, int nh, int v, int vp, int t, long expected)
    {
        var cfg = new GptConfig { Layers = l, Channels = c, Heads = nh, VocabSize = v, PaddedVocabSize = vp, MaxSeqLen = t };
        Assert.Equal(expected, ParameterLayout.PublishedCount(cfg));
        Assert.Equal(expected + (long)(vp - v) * c, new ParameterLayout(cfg).Count);
    }

    [Fact]
    public void Backward_MatchesFiniteDifferencesOfTheLoss()
    {
        var model = new GptModel(Tiny, batch: 2, seqLen: 5, seed: 3);
        int[] inputs = [1, 4, 2, 9, 0, 3, 3, 7, 10, 5];
        int[] targets = [4, 2, 9, 0, 6, 3, 7, 10, 5, 1];
        model.Forward(inputs, targets);
        model.ZeroGradients();
        model.Backward();
        var rng = new Random(5);
        var lay = model.Layout;
        long[] starts = [lay.Wte, lay.Wpe, lay.Ln1W, lay.QkvW, lay.QkvB, lay.AttProjW, lay.Ln2B, lay.FcW, lay.FcProjW, lay.LnfW, lay.LnfB];
        foreach (var start in starts)
            for (var k = 0; k < 4; k++)
            {
                var i = start + rng.Next(8);
                var keep = model.Parameters[i];
                const float h = 1e-2f;
                model.Parameters[i] = keep + h;
                double up = model.Forward(inputs, targets);
                model.Parameters[i] = keep - h;
                double down = model.Forward(inputs, targets);
                model.Parameters[i] = keep;
                var numeric = (up - down) / (2 * h);
                Assert.True(Math.Abs(numeric - model.Gradients[i]) <= 2e-3 + 0.05 * Math.Abs(numeric),
                    $"parameter {i}: analytic {model.Gradients[i]}, numeric {numeric}");
            }
    }

    [Fact]
    public void TinyModel_OverfitsOneBatch()
    {
        var cfg = new GptConfig { Layers = 2, Channels = 32, Heads = 4, VocabSize = 16, PaddedVocabSize = 16, MaxSeqLen = 8 };
        var model = new GptModel(cfg, batch: 2, seqLen: 8, seed: 1);
        var rng = new Random(2);
        var inputs = Enumerable.Range(0, 16).Select(_ => rng.Next(16)).ToArray();
        var targets = Enumerable.Range(0, 16).Select(_ => rng.Next(16)).ToArray();
        var adam = new AdamW(model.Layout.Count);
        var first = model.Forward(inputs, targets);
        float loss = first;
        for (var step = 0; step < 300; step++)
        {
            loss = model.Forward(inputs, targets);
            model.ZeroGradients();
            model.Backward();
            adam.Advance();
            adam.Update(model.Parameters, model.Gradients, 0, 3e-3f, 0f);
        }
        Assert.True(first > 2.0f, $"initial loss {first} should be near ln(16) = 2.77");
        Assert.True(loss < 0.05f, $"loss after 300 steps {loss}");
    }

    [Fact]
    public void SameSeed_SameModelAndLoss()
    {
        int[] inputs = [1, 2, 3, 4, 5], targets = [2, 3, 4, 5, 6];
        var a = new GptModel(Tiny, 1, 5, seed: 9).Forward(inputs, targets);
        var b = new GptModel(Tiny, 1, 5, seed: 9).Forward(inputs, targets);
        Assert.Equal(a, b);
    }

    [Fact]
    public void LossAndGradients_AreIdenticalAtOneAndTwoThreads()
    {
        var cfg = new GptConfig { Layers = 2, Channels = 64, Heads = 4, VocabSize = 50, PaddedVocabSize = 64, MaxSeqLen = 32 };
        var rng = new Random(4);
        var inputs = Enumerable.Range(0, 4 * 32).Select(_ => rng.Next(50)).ToArray();
        var targets = Enumerable.Range(0, 4 * 32).Select(_ => rng.Next(50)).ToArray();
        (float, float[]) Run(int threads)
        {
            var saved = Numerics.Gemm.Threads;
            Numerics.Gemm.Threads = threads;
            try
            {
                var model = new GptModel(cfg, 4, 32, seed: 2);
                var loss = model.Forward(inputs, targets);
                model.Backward();
                return (loss, model.Gradients);
            }
            finally { Numerics.Gemm.Threads = saved; }
        }
        var (l1, g1) = Run(1);
        var (l2, g2) = Run(2);
        Assert.Equal(l1, l2);
        Assert.Equal(g1, g2);
    }

    [Fact]
    public void BadInputs_AreRejected()
    {
        var model = new GptModel(Tiny, 1, 5, seed: 1);
        Assert.Throws<ArgumentException>(() => model.Forward([1, 2, 3], null));
        Assert.Throws<ArgumentException>(() => model.Forward([1, 2, 3, 4, 11], null));
        Assert.Throws<ArgumentException>(() => new GptModel(Tiny with { Heads = 3 }, 1, 5, 1));
        Assert.Throws<InvalidOperationException>(() => new GptModel(Tiny, 1, 5, 1).Backward());
    }
}

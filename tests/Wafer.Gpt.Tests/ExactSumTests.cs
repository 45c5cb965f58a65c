// MemoryX's exact gradient sums: the same bits whatever the order and grouping of the terms (what lets N systems give
// the bits of one), exact where plain fp32 addition rounds, and out-of-range terms reported rather than wrapped.
using Wafer.Core;
using Wafer.Gpt.MemoryX;

namespace Wafer.Gpt.Tests;

public sealed class ExactSumTests
{
    private static float[] Terms(int count, int seed)
    {
        // Magnitudes from 1e-12 to 1e3, both signs: fp32 addition of these rounds differently in every order.
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-12, 4)))).ToArray();
    }

    private static float Sum(IEnumerable<float[]> groups)
    {
        // Each group summed exactly on its own, the partial sums then added: a tree of any shape.
        var total = (Int128)0;
        foreach (var g in groups)
        {
            var partial = (Int128)0;
            foreach (var x in g) partial = ExactSum.Add(partial, ExactSum.ToFixed(x));
            total = ExactSum.Add(total, partial);
        }
        return ExactSum.ToFloat(total);
    }

    [Fact]
    public void AnyOrderAndGrouping_GivesTheSameBits()
    {
        var terms = Terms(60, 5);
        var expected = Sum([terms]);
        var rng = new Random(9);
        for (var trial = 0; trial < 50; trial++)
        {
            var shuffled = terms.OrderBy(_ => rng.Next()).ToArray();
            var cuts = Enumerable.Range(0, rng.Next(1, 8)).Select(_ => rng.Next(1, shuffled.Length)).Distinct().Order().Prepend(0).Append(shuffled.Length).ToArray();
            var groups = cuts.Zip(cuts.Skip(1), (a, b) => shuffled[a..b]);
            Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(Sum(groups)));
        }
        // fp32 addition depends on the order (the reason for exact sums): 2^24 + 1 + 1 is 2^24 one way, 2^24 + 2 the
        // other; the exact sum is 2^24 + 2 in both.
        float big = 1 << 24;
        Assert.NotEqual(big + 1f + 1f, 1f + 1f + big);
        Assert.Equal(big + 2, Sum([[big, 1f, 1f]]));
        Assert.Equal(big + 2, Sum([[1f], [1f, big]]));
    }

    [Fact]
    public void TheSumIsTheRoundingOfTheExactValue()
    {
        // 1 + 2^-30 - 1: fp32 loses the small term, the exact sum keeps it.
        float[] terms = [1f, MathF.Pow(2, -30), -1f];
        Assert.Equal(0f, terms.Aggregate(0f, (a, x) => a + x));
        Assert.Equal(MathF.Pow(2, -30), Sum([terms]));
        // One term comes back as it was (down to 2^-57).
        foreach (var x in Terms(200, 3).Where(v => MathF.Abs(v) >= MathF.Pow(2, -57)))
            Assert.Equal(x, ExactSum.ToFloat(ExactSum.ToFixed(x)));
    }

    [Fact]
    public void TermsOutOfRange_MakeTheSumNotFinite()
    {
        Assert.True(float.IsNaN(Sum([[1f, float.PositiveInfinity]])));
        Assert.True(float.IsNaN(Sum([[1f, float.NaN]])));
        Assert.True(float.IsNaN(Sum([[MathF.Pow(2, 33), 1f]])));
        Assert.Equal(MathF.Pow(2, 31) + 1, Sum([[MathF.Pow(2, 31), 1f]]));
    }

    [Fact]
    public void TheStore_TakesPartialSums_AsItTakesTheirTerms()
    {
        // Four micro-batch gradients of every segment: sent one by one, or as two exact partial sums (SwarmX's tree,
        // two systems of two rounds... here two subtrees), give the same accumulated gradient and the same norm.
        var cfg = new GptConfig { Layers = 1, Channels = 32, Heads = 2, FfnChannels = 128, VocabSize = 40, PaddedVocabSize = 48, MaxSeqLen = 8 };
        var layout = new ParameterLayout(cfg);
        var grads = Enumerable.Range(0, 4).Select(p => layout.Segments.Select((seg, s) => Terms((int)seg.Count, 100 * p + s)).ToArray()).ToArray();
        using var one = new WeightStore(layout, new InMemoryStorage(layout), new OptimizerConfig(), 1);
        using var two = new WeightStore(layout, new InMemoryStorage(layout), new OptimizerConfig(), 2);
        for (var s = 0; s < layout.Segments.Count; s++)
        {
            for (var p = 0; p < 4; p++) one.AccumulateGradient(s, grads[p][s], lastOfStep: p == 3);
            foreach (var (pair, last) in new[] { ((3, 1), false), ((0, 2), true) })
            {
                var sums = new Int128[grads[0][s].Length];
                ExactSum.Accumulate(sums, grads[pair.Item1][s], first: true);
                ExactSum.Accumulate(sums, grads[pair.Item2][s], first: false);
                two.AccumulateSums(s, sums, last);
            }
        }
        one.EndStep(1e-3f, 4);
        two.EndStep(1e-3f, 4);
        Assert.Equal(one.LastGradNorm, two.LastGradNorm);
        for (var s = 0; s < layout.Segments.Count; s++)
        {
            var a = new float[layout.Segments[s].Count];
            var b = new float[layout.Segments[s].Count];
            one.ReadState(s, StateKind.Weights, 0, a);
            two.ReadState(s, StateKind.Weights, 0, b);
            Assert.Equal(a, b);
        }
    }
}

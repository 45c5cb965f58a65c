using Wafer.Gpt.MemoryX;
using Wafer.Gpt.Model;

namespace Wafer.Gpt.Tests;

/// <summary>The cycle executor (the layer program on the simulated wafer) against the fast executor: the same losses
/// and gradients within fp32 summation-order tolerance.</summary>
public class CycleExecutorTests
{
    // Two layers, odd shapes (C 12 over 3 columns), 3 heads, 2 sequences of 6 tokens over 4 rows (a sequence spans 2 rows).
    internal static readonly GptConfig Small = new() { Name = "small", Layers = 2, Channels = 12, Heads = 3, FfnChannels = 24, VocabSize = 11, PaddedVocabSize = 13, MaxSeqLen = 6 };

    internal static (float Loss, float[] Grads) Pass(GptConfig cfg, int b, int t, Func<WeightStore, IGptExecutor> make, int seed = 7)
    {
        var layout = new ParameterLayout(cfg);
        using var store = new WeightStore(layout, new InMemoryStorage(layout), new OptimizerConfig());
        store.Initialise(seed);
        var exec = make(store);
        var rng = new Random(seed);
        var x = Enumerable.Range(0, b * t).Select(_ => rng.Next(cfg.VocabSize)).ToArray();
        var y = Enumerable.Range(0, b * t).Select(_ => rng.Next(cfg.VocabSize)).ToArray();
        var loss = exec.TrainPass(x, y, lastPassOfStep: true);
        var grads = new List<float>();
        for (var s = 0; s < layout.Segments.Count; s++)
        {
            var g = new float[layout.Segments[s].Count];
            store.ReadState(s, StateKind.Gradient, 0, g);
            grads.AddRange(g);
        }
        return (loss, grads.ToArray());
    }

    [Fact]
    public void CyclePass_MatchesTheFastPass_LossAndGradients()
    {
        const int b = 2, t = 6;
        var fast = Pass(Small, b, t, s => new GptExecutor(s, b, t));
        var cycle = Pass(Small, b, t, s => new CycleExecutor(s, b, t, new CycleOptions { Columns = 3, Rows = 4, Threads = 2 }));
        Assert.True(Math.Abs(fast.Loss - cycle.Loss) <= 1e-6 * Math.Abs(fast.Loss), $"loss {cycle.Loss} vs {fast.Loss}");
        var scale = fast.Grads.Max(Math.Abs);
        var worst = Enumerable.Range(0, fast.Grads.Length).Max(i => Math.Abs(fast.Grads[i] - cycle.Grads[i]));
        Assert.True(worst <= 1e-5 * scale, $"largest gradient difference {worst:G3} against a largest gradient of {scale:G3}");
    }
}

using Wafer.Core;
using Wafer.Gpt.MemoryX;

namespace Wafer.Gpt.Tests;

public class WeightStoreTests
{
    /// <summary>One block of 0.8 M parameters: its gradient is handed off in several chunks of 32 K floats, in parallel
    /// when MemoryX is in memory and one by one when it is on disk.</summary>
    private static readonly GptConfig Wide = new() { Layers = 1, Channels = 256, Heads = 4, FfnChannels = 1024, VocabSize = 11, PaddedVocabSize = 16, MaxSeqLen = 8 };

    [Fact]
    public void AdamWUpdate_MatchesTheScalarFormula_OnTensorsOfAnyLength()
    {
        // Channels 6, vocabulary 5, positions 3: tensors of 6, 18, 30, 108 ... floats, most not a multiple of the
        // update's 16- or 8-lane vectors (108 = 6 x 16 + 8 + 4 takes all three loops), so the scalar tail runs on nearly
        // every tensor; no clipping.
        var cfg = new GptConfig { Layers = 1, Channels = 6, Heads = 2, FfnChannels = 10, VocabSize = 5, PaddedVocabSize = 5, MaxSeqLen = 3 };
        var layout = new ParameterLayout(cfg);
        var opt = new OptimizerConfig { ClipNorm = 0 };
        using var store = new WeightStore(layout, new InMemoryStorage(layout), opt, threads: 2);
        store.Initialise(5);
        var rng = new Random(8);
        var before = new float[layout.Segments.Count][];
        var grads = new float[layout.Segments.Count][];
        for (var s = 0; s < layout.Segments.Count; s++)
        {
            before[s] = new float[layout.Segments[s].Count];
            store.ReadState(s, StateKind.Weights, 0, before[s]);
            grads[s] = Enumerable.Range(0, before[s].Length).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            store.AccumulateGradient(s, grads[s], lastOfStep: true);
        }
        const float lr = 1e-2f;
        store.EndStep(lr, passes: 1);
        float c1 = 1f - MathF.Pow(opt.Beta1, 1), c2 = 1f - MathF.Pow(opt.Beta2, 1);
        for (var s = 0; s < layout.Segments.Count; s++)
        {
            var after = new float[before[s].Length];
            store.ReadState(s, StateKind.Weights, 0, after);
            foreach (var slot in layout.Segments[s].Tensors)
            {
                var wd = slot.Decay ? opt.WeightDecay : 0f;
                for (var i = (int)slot.Offset; i < slot.Offset + slot.Count; i++)
                {
                    var g = grads[s][i];
                    var m = (1 - opt.Beta1) * g; // the moments start at zero
                    var v = (1 - opt.Beta2) * g * g;
                    var w = before[s][i];
                    Assert.Equal(w - lr * (m / c1 / (MathF.Sqrt(v / c2) + opt.Epsilon) + wd * w), after[i], 1e-6f);
                }
            }
        }
    }

    [Fact]
    public void GradientHandOff_InChunks_GivesTheSameNormAndUpdateInMemoryAndOnDisk()
    {
        var layout = new ParameterLayout(Wide);
        Assert.True(layout.Segments[1].Count > 3 * (1 << 18)); // several chunks
        var dir = Directory.CreateTempSubdirectory("wafer-memx-chunks-");
        try
        {
            using var memory = new WeightStore(layout, new InMemoryStorage(layout), new OptimizerConfig(), threads: 2);
            using var disk = new WeightStore(layout, new FileStorage(layout, dir.FullName), new OptimizerConfig(), threads: 2);
            foreach (var store in new[] { memory, disk })
            {
                store.Initialise(7);
                var rng = new Random(3);
                for (var pass = 0; pass < 2; pass++) // the first pass copies, the second adds
                    for (var s = 0; s < layout.Segments.Count; s++)
                    {
                        var g = Enumerable.Range(0, (int)layout.Segments[s].Count).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
                        store.AccumulateGradient(s, g, lastOfStep: pass == 1);
                    }
                store.EndStep(1e-3f, passes: 2);
                store.ApplyAllPending();
            }
            // The reference: the same two passes summed in float, the norm in double, averaged over the passes.
            var replay = new Random(3);
            var sums = layout.Segments.Select(seg => new float[seg.Count]).ToArray();
            for (var pass = 0; pass < 2; pass++)
                for (var s = 0; s < layout.Segments.Count; s++)
                    for (var i = 0; i < sums[s].Length; i++) sums[s][i] += (float)(replay.NextDouble() - 0.5);
            var expected = Math.Sqrt(sums.Sum(a => a.Sum(x => (double)x * x))) / 2;
            Assert.Equal(memory.LastGradNorm, disk.LastGradNorm);
            Assert.Equal(expected, memory.LastGradNorm, 1e-9 * expected);
            for (var s = 0; s < layout.Segments.Count; s++)
            {
                var a = new float[layout.Segments[s].Count];
                var b = new float[layout.Segments[s].Count];
                memory.ReadState(s, StateKind.Weights, 0, a);
                disk.ReadState(s, StateKind.Weights, 0, b);
                Assert.Equal(a, b);
            }
        }
        finally { dir.Delete(true); }
    }
}

using Wafer.Gpt.MemoryX;

namespace Wafer.Gpt.Tests;

[Collection("Gemm.Threads")]
public class WeightStoreTests
{
    /// <summary>One block of 0.8 M parameters: its gradient is handed off in several chunks of 32 K floats, in parallel
    /// when MemoryX is in memory and one by one when it is on disk.</summary>
    private static readonly GptConfig Wide = new() { Layers = 1, Channels = 256, Heads = 4, FfnChannels = 1024, VocabSize = 11, PaddedVocabSize = 16, MaxSeqLen = 8 };

    [Fact]
    public void GradientHandOff_InChunks_GivesTheSameNormAndUpdateInMemoryAndOnDisk()
    {
        var layout = new ParameterLayout(Wide);
        Assert.True(layout.Segments[1].Count > 3 * (1 << 18)); // several chunks
        var dir = Directory.CreateTempSubdirectory("wafer-memx-chunks-");
        try
        {
            using var memory = new WeightStore(layout, new InMemoryStorage(layout), new OptimizerConfig());
            using var disk = new WeightStore(layout, new FileStorage(layout, dir.FullName), new OptimizerConfig());
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

using Wafer.Core;
using Wafer.Fabric;
using Wafer.Gpt.MemoryX;
using Wafer.Gpt.Model;
using Wafer.Gpt.Training;

namespace Wafer.Gpt.Tests;

/// <summary>The cycle executor (the layer program on the simulated wafer) against the fast executor. Tolerance: fp32
/// summation order. The fabric sums partial products, LayerNorm statistics and attention scores in another order than
/// the host kernels, and computes exp and tanh with other routines: after one pass every gradient is within 1e-5 of the
/// largest gradient and the loss within 1e-6 relative; over five AdamW steps the step losses stay within 1e-4 relative.</summary>
public class CycleExecutorTests
{
    // Two layers, odd shapes (C 12 over 3 columns), 3 heads, 2 sequences of 6 tokens over 4 rows (a sequence spans 2 rows).
    internal static readonly GptConfig Small = new() { Name = "small", Layers = 2, Channels = 12, Heads = 3, FfnChannels = 24, VocabSize = 11, PaddedVocabSize = 13, MaxSeqLen = 6 };
    // Heads across 2 columns (hs 8, 4 features per column), 2 sequences per row.
    internal static readonly GptConfig Wide = new() { Name = "wide", Layers = 2, Channels = 16, Heads = 2, FfnChannels = 32, VocabSize = 9, PaddedVocabSize = 9, MaxSeqLen = 4 };

    // GPT-J's block: parallel residual, one shared LayerNorm, rotary on 4 of 8 head dims in interleaved pairs, no
    // attention biases, an untied head with a bias; 4 features per column, so column 1 and 3 hold no rotary pair.
    internal static readonly GptConfig JLike = new()
    {
        Name = "j-like", Layers = 2, Channels = 16, Heads = 2, FfnChannels = 32, VocabSize = 9, PaddedVocabSize = 9, MaxSeqLen = 4,
        Positions = PositionEncoding.Rotary, RotaryDims = 4, RotaryInterleaved = true, ParallelResidual = true, SharedBlockNorm = true,
        TiedEmbedding = false, AttentionBias = false, HeadBias = true,
    };
    // NeoX's block: parallel residual, two LayerNorms, rotary on 6 of 12 head dims as halves (i, i + 3), untied head.
    internal static readonly GptConfig NeoXLike = new()
    {
        Name = "neox-like", Layers = 2, Channels = 24, Heads = 2, FfnChannels = 48, VocabSize = 10, PaddedVocabSize = 12, MaxSeqLen = 4,
        Positions = PositionEncoding.Rotary, RotaryDims = 6, ParallelResidual = true, TiedEmbedding = false,
    };

    internal static (float Loss, float[] Grads) Pass(GptConfig cfg, int b, int t, Func<WeightStore, IGptExecutor> make, int seed = 7)
    {
        var layout = new ParameterLayout(cfg);
        using var store = new WeightStore(layout, new InMemoryStorage(layout), new OptimizerConfig(), threads: 2);
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

    [Theory]
    [InlineData("small", 2, 6, 3, 4)]
    [InlineData("wide", 4, 4, 4, 2)]
    [InlineData("j-like", 2, 4, 4, 4)]
    [InlineData("neox-like", 4, 4, 4, 2)]
    [InlineData("neox-like", 2, 4, 12, 2)] // 2 features per column: a pair (i, i + 3) lands on one column after the reorder
    public void CyclePass_MatchesTheFastPass_LossAndGradients(string model, int b, int t, int columns, int rows)
    {
        var cfg = model switch { "small" => Small, "wide" => Wide, "j-like" => JLike, _ => NeoXLike };
        var fast = Pass(cfg, b, t, s => new GptExecutor(s, b, t, StreamPrecision.Fp32, new HostSchedule { Threads = 2 }));
        var cycle = Pass(cfg, b, t, s => new CycleExecutor(s, b, t, new CycleOptions { Columns = columns, Rows = rows, Threads = 2 }));
        Assert.True(Math.Abs(fast.Loss - cycle.Loss) <= 1e-6 * Math.Abs(fast.Loss), $"loss {cycle.Loss} vs {fast.Loss}");
        var scale = fast.Grads.Max(Math.Abs);
        var worst = Enumerable.Range(0, fast.Grads.Length).Max(i => Math.Abs(fast.Grads[i] - cycle.Grads[i]));
        Assert.True(worst <= 1e-5 * scale, $"largest gradient difference {worst:G3} against a largest gradient of {scale:G3}");
        Assert.Contains(cycle.Grads, g => g != 0);
    }

    private static readonly GptConfig Tiny = new() { Name = "tiny", Layers = 2, Channels = 12, Heads = 3, FfnChannels = 24, VocabSize = 65, PaddedVocabSize = 65, MaxSeqLen = 8 };

    private static TrainOptions CycleRun(string dir, int steps) => new()
    {
        Model = Tiny, Steps = steps, DecaySteps = 5, WarmupSteps = 1, Batch = 2, SeqLen = 8, EvalInterval = 2, EvalBatches = 1,
        LearningRate = 1e-2f, MinLearningRate = 1e-3f, OutputDirectory = dir, SampleTokens = 0, LogInterval = 100,
        Fidelity = Fidelity.Cycle, Cycle = new CycleOptions { Columns = 3, Rows = 4, Threads = 2 },
    };

    [Fact]
    public void FiveCycleSteps_TrackTheFastExecutor_AndReportTheWafer()
    {
        var dir = Wafer.Tests.TempDirs.Create("wafer-cycle-");
        var r = Trainer.Run(CycleRun(dir, 5), TextWriter.Null);
        Assert.Equal(5, r.StepLosses.Count);
        Assert.Equal(5, r.ReferenceStepLosses.Count);
        for (var i = 0; i < 5; i++)
            Assert.True(Math.Abs(r.StepLosses[i] - r.ReferenceStepLosses[i]) <= 1e-4 * r.ReferenceStepLosses[i],
                $"step {i + 1}: cycle {r.StepLosses[i]} vs fast {r.ReferenceStepLosses[i]}");
        Assert.True(r.StepLosses[^1] < r.StepLosses[0]);
        Assert.True(r.FabricCyclesPerStep > 0 && r.Fabric!.LastTrainingPass.Count == 4); // 2 layers forward and backward
        Assert.InRange((r.FabricCyclesPerStep - r.FabricModelCyclesPerStep) / r.FabricModelCyclesPerStep, -0.05, 0.05);
        // Values through the edge: every weight of a layer enters at least once forward; backward streams the weights
        // again and sends each weight's gradient out. The same counts for both layers.
        long weights = 4L * Tiny.Channels * Tiny.Channels + 2L * Tiny.Channels * Tiny.FfnChannels;
        var pass = r.Fabric.LastTrainingPass;
        Assert.All(pass.Where(l => l.Direction == "forward"), l => Assert.InRange(l.EdgeValues, weights, 2 * weights));
        Assert.All(pass.Where(l => l.Direction == "backward"), l => Assert.True(l.EdgeValues >= 2 * weights, $"layer {l.Layer} backward: {l.EdgeValues} values"));
        Assert.Single(pass.Where(l => l.Direction == "forward").Select(l => l.EdgeValues).Distinct());
        Assert.Single(pass.Where(l => l.Direction == "backward").Select(l => l.EdgeValues).Distinct());
        Assert.Contains("fast_reference_step,5,", File.ReadAllText(Path.Combine(dir, "loss.csv")));
    }

    /// <summary>The fp16 mapping (fp16 operands, fp32 accumulation) against the fp32 cycle run on the same batches: every
    /// step loss within 1 % (fp16 operands carry 11 bits; the bound holds with margin over these five steps).</summary>
    [Fact]
    public void Fp16CycleRun_TracksTheFp32CycleRun()
    {
        var r32 = Trainer.Run(CycleRun(Wafer.Tests.TempDirs.Create("wafer-cycle32-"), 5) with { FastReference = false, EvalInterval = 5 }, TextWriter.Null);
        var r16 = Trainer.Run(CycleRun(Wafer.Tests.TempDirs.Create("wafer-cycle16-"), 5) with { FastReference = false, EvalInterval = 5, Precision = StreamPrecision.Fp16 }, TextWriter.Null);
        for (var i = 0; i < 5; i++)
            Assert.True(Math.Abs(r16.StepLosses[i] - r32.StepLosses[i]) <= 0.01 * r32.StepLosses[i], $"step {i + 1}: fp16 {r16.StepLosses[i]} vs fp32 {r32.StepLosses[i]}");
        Assert.NotEqual(r32.StepLosses[^1], r16.StepLosses[^1]); // the fp16 mapping really ran
        Assert.InRange((r16.FabricCyclesPerStep - r16.FabricModelCyclesPerStep) / r16.FabricModelCyclesPerStep, -0.05, 0.05);
    }

    [Fact]
    public void ResumedCycleRun_EqualsTheUninterruptedOne_BitForBit()
    {
        var a = Wafer.Tests.TempDirs.Create("wafer-cycle-a-");
        var b = Wafer.Tests.TempDirs.Create("wafer-cycle-b-");
        var full = Trainer.Run(CycleRun(a, 4) with { FastReference = false }, TextWriter.Null);
        Trainer.Run(CycleRun(b, 2) with { FastReference = false, DecaySteps = 5 }, TextWriter.Null);
        var resumed = Trainer.Run(CycleRun(b, 4) with { FastReference = false, ResumePath = Path.Combine(b, Trainer.CheckpointFile), Model = null }, TextWriter.Null);
        Assert.Equal(full.StepLosses, resumed.StepLosses);
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, Trainer.CheckpointFile)), File.ReadAllBytes(Path.Combine(b, Trainer.CheckpointFile)));
    }

    [Fact]
    public void RotaryPairSplitAcrossColumns_IsRefused()
    {
        // Interleaved pairs need an even number of features per column: 16 channels over 16 columns hold 1.
        var e = Assert.ThrowsAny<WaferInputException>(() => CycleExecutor.Admit(JLike, 2, 4, new CycleOptions { Columns = 16, Rows = 2 }));
        Assert.Contains("would split rotary pairs", e.Message);
        e = Assert.ThrowsAny<WaferInputException>(() => CycleExecutor.Admit(NeoXLike, 2, 4, new CycleOptions { Columns = 8, Rows = 2 }));
        Assert.Contains("3 features per column would split rotary pairs", e.Message);
    }

    [Fact]
    public void RegionTooSmall_IsRefused_WithWhatItNeeds()
    {
        var cfg = Small with { Channels = 48, Heads = 3, FfnChannels = 192, MaxSeqLen = 64 };
        var layout = new ParameterLayout(cfg);
        using var store = new WeightStore(layout, new InMemoryStorage(layout), new OptimizerConfig(), threads: 2);
        var e = Assert.ThrowsAny<WaferInputException>(() => new CycleExecutor(store, 4, 64, new CycleOptions { Columns = 1, Rows = 1 }));
        Assert.Contains("needs", e.Message);
        Assert.Contains("bytes of SRAM", e.Message);
        Assert.Matches(@"--region \d+x\d+ fits$", e.Message); // and what would
        var rows = Assert.ThrowsAny<Exception>(() => new CycleExecutor(store, 4, 64, new CycleOptions { Columns = 3, Rows = 5 }));
        Assert.Contains("5 worker rows do not divide the 256 tokens", rows.Message);
    }
}

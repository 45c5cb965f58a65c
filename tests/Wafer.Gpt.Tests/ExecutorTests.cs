using Wafer.Core;
using Wafer.Gpt.MemoryX;
using Wafer.Gpt.Model;

namespace Wafer.Gpt.Tests;

public class ExecutorTests
{
    private static readonly GptConfig Gpt2Like = new() { Layers = 2, Channels = 8, Heads = 2, FfnChannels = 32, VocabSize = 11, PaddedVocabSize = 12, MaxSeqLen = 6 };
    private static readonly GptConfig NeoXLike = Gpt2Like with
    {
        Positions = PositionEncoding.Rotary, RotaryDims = 2, ParallelResidual = true, TiedEmbedding = false, FfnChannels = 24,
    };
    private static readonly GptConfig GptJLike = Gpt2Like with
    {
        Positions = PositionEncoding.Rotary, RotaryDims = 4, RotaryInterleaved = true, ParallelResidual = true, SharedBlockNorm = true,
        TiedEmbedding = false, AttentionBias = false, HeadBias = true,
    };

    public static TheoryData<string> Shapes => new() { "gpt2", "neox", "gptj" };
    private static GptConfig Shape(string name) => name switch { "gpt2" => Gpt2Like, "neox" => NeoXLike, _ => GptJLike };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Backward_MatchesFiniteDifferencesOfTheLoss(string shape)
    {
        var cfg = Shape(shape);
        using var h = new ModelHarness(cfg, 2, 5, seed: 3);
        int[] inputs = [1, 4, 2, 9, 0, 3, 3, 7, 10, 5];
        int[] targets = [4, 2, 9, 0, 6, 3, 7, 10, 5, 1];
        h.Executor.Forward(inputs, targets);
        h.Executor.Backward(lastPassOfStep: true);
        var grads = h.All(StateKind.Gradient);
        var rng = new Random(5);
        var checkedTensors = 0;
        var fails = new List<string>();
        foreach (var segment in h.Layout.Segments)
            foreach (var slot in segment.Tensors)
            {
                checkedTensors++;
                for (var k = 0; k < 3; k++)
                {
                    var i = h.IndexOf(segment.Name, slot.Name, rng.Next((int)Math.Min(slot.Count, 40)));
                    var keep = h.Get(i);
                    const float step = 2e-3f; // the residual stream has std ~0.03 at init: larger steps leave the linear regime of the final LayerNorm
                    h.Set(i, keep + step);
                    double up = h.Executor.Forward(inputs, targets);
                    h.Set(i, keep - step);
                    double down = h.Executor.Forward(inputs, targets);
                    h.Set(i, keep);
                    var numeric = (up - down) / (2 * step);
                    if (!(Math.Abs(numeric - grads[i]) <= 2e-3 + 0.05 * Math.Abs(numeric))) fails.Add($"{shape} {segment.Name}.{slot.Name} [{i}]: analytic {grads[i]}, numeric {numeric}");
                }
            }
        Assert.True(fails.Count == 0, string.Join("\n", fails));
        Assert.True(checkedTensors >= 12);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TinyModel_OverfitsOneBatch(string shape)
    {
        var cfg = Shape(shape) with { Channels = 32, Heads = 4, FfnChannels = 128, VocabSize = 16, PaddedVocabSize = 16, MaxSeqLen = 8 };
        using var h = new ModelHarness(cfg, 2, 8, seed: 1, new OptimizerConfig { WeightDecay = 0, ClipNorm = 0, Beta2 = 0.999f });
        var rng = new Random(2);
        var inputs = Enumerable.Range(0, 16).Select(_ => rng.Next(16)).ToArray();
        var targets = Enumerable.Range(0, 16).Select(_ => rng.Next(16)).ToArray();
        var first = h.Executor.Forward(inputs, targets);
        var loss = first;
        for (var s = 0; s < 300; s++)
        {
            loss = h.Executor.Forward(inputs, targets);
            h.Executor.Backward(true);
            h.Store.EndStep(3e-3f, 1);
        }
        Assert.True(first > 2.0f, $"initial loss {first} should be near ln(16) = 2.77");
        Assert.True(loss < 0.05f, $"{shape}: loss after 300 steps {loss}");
    }

    private static (float[] Losses, float[] Weights, float[] M) TrainThreeSteps(GptConfig cfg, ISegmentStorage? storage,
        StreamPrecision precision = StreamPrecision.Fp32)
    {
        using var h = new ModelHarness(cfg, 2, 6, seed: 7, new OptimizerConfig { ClipNorm = 0.5f }, storage, precision);
        var rng = new Random(8);
        var losses = new List<float>();
        for (var step = 0; step < 3; step++)
        {
            for (var pass = 0; pass < 2; pass++)
            {
                var x = Enumerable.Range(0, 12).Select(_ => rng.Next(cfg.VocabSize)).ToArray();
                var y = Enumerable.Range(0, 12).Select(_ => rng.Next(cfg.VocabSize)).ToArray();
                losses.Add(h.Executor.Forward(x, y));
                h.Executor.Backward(pass == 1);
            }
            h.Store.EndStep(1e-2f, 2);
        }
        return (losses.ToArray(), h.All(StateKind.Weights), h.All(StateKind.FirstMoment));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FileBackedMemoryX_GivesBitIdenticalTrainingToInMemory(string shape)
    {
        var cfg = Shape(shape);
        var dir = Directory.CreateTempSubdirectory("wafer-memx-");
        try
        {
            var memory = TrainThreeSteps(cfg, null);
            var file = TrainThreeSteps(cfg, new FileStorage(new ParameterLayout(cfg), dir.FullName));
            Assert.Equal(memory.Losses, file.Losses);
            Assert.Equal(memory.Weights, file.Weights);
            Assert.Equal(memory.M, file.M);
            Assert.NotEqual(memory.Losses[0], memory.Losses[^1]);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void Bf16Streaming_StaysCloseToFp32ButIsNotIdentical()
    {
        var fp32 = TrainThreeSteps(Gpt2Like, null);
        var bf16 = TrainThreeSteps(Gpt2Like, null, StreamPrecision.Bf16);
        Assert.NotEqual(fp32.Losses, bf16.Losses);
        for (var i = 0; i < fp32.Losses.Length; i++) Assert.True(Math.Abs(fp32.Losses[i] - bf16.Losses[i]) < 0.02, $"pass {i}: {fp32.Losses[i]} vs {bf16.Losses[i]}");
    }

    [Theory]
    [InlineData(4, true)]
    [InlineData(3, true)] // unequal batch shards (1 and 2 sequences)
    [InlineData(4, false)] // untied: the head's weight gradient is reduced like a block's
    public void TrainingIsIdenticalAtAnyThreadCountAndShardSchedule(int batch, bool tied)
    {
        // Two steps of two micro-batches each: the second step's forward applies the first's deferred update, and the
        // first pass of a step is not its last (no norm yet), so every hand-off path of the free-running schedule runs.
        var cfg = new GptConfig
        {
            Layers = 2, Channels = 64, Heads = 4, FfnChannels = 256, VocabSize = 50, PaddedVocabSize = 64, MaxSeqLen = 32,
            TiedEmbedding = tied, HeadBias = !tied,
        };
        var rng = new Random(4);
        var batches = Enumerable.Range(0, 4).Select(_ => (
            Enumerable.Range(0, batch * 32).Select(_ => rng.Next(50)).ToArray(),
            Enumerable.Range(0, batch * 32).Select(_ => rng.Next(50)).ToArray())).ToArray();
        (float[] Losses, float[] Gradients, float[] Weights, float[] Moments, long Streamed, double Norm) Run(int threads, bool concurrentShards, bool trainPass)
        {
            using var h = new ModelHarness(cfg, batch, 32, seed: 2, host: new HostSchedule { Threads = threads, ConcurrentShards = concurrentShards });
            var losses = new List<float>();
            for (var pass = 0; pass < batches.Length; pass++)
            {
                var (x, y) = batches[pass];
                var last = pass % 2 == 1;
                if (trainPass) losses.Add(h.Executor.TrainPass(x, y, last));
                else
                {
                    losses.Add(h.Executor.Forward(x, y));
                    h.Executor.Backward(last);
                }
                if (last) h.Store.EndStep(1e-3f, 2);
            }
            var norm = h.Store.LastGradNorm;
            return (losses.ToArray(), h.All(StateKind.Gradient), h.All(StateKind.Weights), h.All(StateKind.SecondMoment), h.Executor.BytesStreamed, norm);
        }
        var one = Run(1, true, false);
        Assert.True(one.Norm > 0);
        foreach (var (threads, concurrent, trainPass) in new[] { (2, true, true), (2, true, false), (2, false, true), (3, true, true) })
        {
            var other = Run(threads, concurrent, trainPass);
            Assert.Equal(one.Losses, other.Losses);
            Assert.Equal(one.Gradients, other.Gradients);
            Assert.Equal(one.Weights, other.Weights);
            Assert.Equal(one.Moments, other.Moments);
            Assert.Equal(one.Streamed, other.Streamed);
            Assert.Equal(one.Norm, other.Norm);
        }
    }

    [Fact]
    public void ShardsRunningFree_TakeSeveralGradientChunksPerSegment()
    {
        // The free-running hand-off splits a segment into 32 K-float chunks; a block of this size has several (and the
        // head's tied part one), so the chunk tasks are shared, and the result must equal the lockstep one.
        var cfg = new GptConfig { Layers = 1, Channels = 64, Heads = 4, FfnChannels = 512, VocabSize = 50, PaddedVocabSize = 64, MaxSeqLen = 16 };
        Assert.True(new ParameterLayout(cfg).Block(0).Count > 2 * 32 * 1024);
        var rng = new Random(9);
        var x = Enumerable.Range(0, 4 * 16).Select(_ => rng.Next(50)).ToArray();
        var y = Enumerable.Range(0, 4 * 16).Select(_ => rng.Next(50)).ToArray();
        float[] Gradients(bool concurrent)
        {
            using var h = new ModelHarness(cfg, 4, 16, seed: 5, host: new HostSchedule { Threads = 2, ConcurrentShards = concurrent });
            h.Executor.TrainPass(x, y, lastPassOfStep: true);
            return h.All(StateKind.Gradient);
        }
        var free = Gradients(true);
        Assert.Contains(free, g => g != 0f);
        Assert.Equal(Gradients(false), free);
    }

    [Fact]
    public void AShardHeldBack_IsHelpedByTheOther_AndTrainingStaysIdentical()
    {
        // nano's widths (products and attention large enough to be split), two sequences per shard. Shard 1 is held back
        // at the backward's start, so shard 0 waits for it (for the head's hand-off, then at the pass's end) and runs parts
        // of its jobs meanwhile; losses, weights and moments must equal the lockstep schedule's.
        var cfg = new GptConfig { Layers = 2, Channels = 128, Heads = 4, FfnChannels = 512, VocabSize = 65, PaddedVocabSize = 128, MaxSeqLen = 64 };
        var rng = new Random(6);
        var batches = Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, 4 * 64).Select(_ => rng.Next(65)).ToArray()).ToArray();
        (float[] Losses, float[] Weights, float[] Moments, long Helped) Run(bool free)
        {
            var backwardStart = new ParameterLayout(cfg).Segments.Count;
            var host = new HostSchedule
            {
                Threads = 2, ConcurrentShards = free,
                StageStart = free ? (shard, stage) => { if (shard == 1 && stage == backwardStart) Thread.Sleep(50); } : null,
            };
            using var h = new ModelHarness(cfg, 4, 64, seed: 8, host: host);
            var losses = new List<float>();
            for (var step = 0; step < 2; step++)
            {
                losses.Add(h.Executor.TrainPass(batches[step], batches[1 - step], lastPassOfStep: true));
                h.Store.EndStep(1e-3f, 1);
            }
            return (losses.ToArray(), h.All(StateKind.Weights), h.All(StateKind.SecondMoment), h.Executor.PartsHelped);
        }
        var lockstep = Run(free: false);
        var free = Run(free: true);
        Assert.True(free.Helped > 0, "the waiting shard took no part of the other's work");
        Assert.Equal(lockstep.Losses, free.Losses);
        Assert.Equal(lockstep.Weights, free.Weights);
        Assert.Equal(lockstep.Moments, free.Moments);
    }

    /// <summary>In-memory state whose gradient accumulator of one segment fails when armed (a hand-off that throws).</summary>
    private sealed class FailingGradientStorage(ParameterLayout layout, int failingSegment) : ISegmentStorage
    {
        private readonly InMemoryStorage _inner = new(layout);
        public bool Armed { get; set; }
        public void Read(int segment, StateKind kind, long start, Span<float> destination) => _inner.Read(segment, kind, start, destination);
        public void Write(int segment, StateKind kind, long start, ReadOnlySpan<float> source) => _inner.Write(segment, kind, start, source);
        public float[]? View(int segment, StateKind kind) =>
            Armed && segment == failingSegment && kind == StateKind.Gradient ? throw new IOException($"segment {segment} unavailable") : _inner.View(segment, kind);
        public void EnsureSums(int segment) => _inner.EnsureSums(segment);
        public void ReadSums(int segment, long start, Span<Int128> destination) => _inner.ReadSums(segment, start, destination);
        public void WriteSums(int segment, long start, ReadOnlySpan<Int128> source) => _inner.WriteSums(segment, start, source);
        public Int128[]? SumsView(int segment) => _inner.SumsView(segment);
        public long ResidentBytes => _inner.ResidentBytes;
        public void Flush() { }
        public void Dispose() => _inner.Dispose();
    }

    [Fact]
    public void AFailingHandOff_EndsTheFreeRunningPassWithItsOwnError()
    {
        // One shard's hand-off of block 0 throws: the other shard, waiting on that hand-off, must give up (not hang) and
        // the pass must report the storage's error, not the other shard's cancellation.
        var cfg = new GptConfig { Layers = 2, Channels = 64, Heads = 4, FfnChannels = 256, VocabSize = 50, PaddedVocabSize = 64, MaxSeqLen = 16 };
        var layout = new ParameterLayout(cfg);
        var storage = new FailingGradientStorage(layout, failingSegment: 1);
        using var h = new ModelHarness(cfg, 4, 16, seed: 3, storage: storage, host: new HostSchedule { Threads = 2 });
        var x = Enumerable.Range(0, 4 * 16).Select(i => i % 50).ToArray();
        h.Executor.TrainPass(x, x, lastPassOfStep: true); // works unarmed
        storage.Armed = true;
        var pass = Task.Run(() => h.Executor.TrainPass(x, x, lastPassOfStep: true));
        Assert.True(((IAsyncResult)pass).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(60)), "the pass hung");
        var error = Assert.Throws<AggregateException>(() => pass.GetAwaiter().GetResult());
        Assert.IsType<IOException>(error.InnerException);
    }

    [Fact]
    public void Executor_ReportsStreamedBytes()
    {
        using var h = new ModelHarness(Gpt2Like, 1, 5, seed: 1);
        int[] x = [1, 2, 3, 4, 5], y = [2, 3, 4, 5, 6];
        h.Executor.Forward(x, y);
        h.Executor.Backward(true);
        var l = h.Layout;
        var blocks = l.Segments.Skip(1).Take(Gpt2Like.Layers).Sum(s => s.Count);
        // forward: every segment; backward: head and blocks again; gradients: every segment once (a tied head's share of
        // the embedding's is added on the device).
        var expected = 4 * (l.Count + blocks + l.Head.Count) + 4 * l.Count;
        Assert.Equal(expected, h.Executor.BytesStreamed);
    }

    [Fact]
    public void BadInputs_AreRejected()
    {
        using var h = new ModelHarness(Gpt2Like, 1, 5, seed: 1);
        Assert.Throws<ArgumentException>(() => h.Executor.Forward([1, 2, 3], null));
        Assert.Throws<ArgumentException>(() => h.Executor.Forward([1, 2, 3, 4, 11], null));
        Assert.Throws<InvalidOperationException>(() => h.Executor.Backward(true));
        Assert.Throws<InvalidOperationException>(() => h.Store.EndStep(1e-3f, 1));
    }
}

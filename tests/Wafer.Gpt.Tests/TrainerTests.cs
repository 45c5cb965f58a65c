using Wafer.Core;
using Wafer.Gpt.Data;
using Wafer.Gpt.Training;

namespace Wafer.Gpt.Tests;

public class TrainerTests
{
    private static readonly GptConfig Small = new() { Name = "small", Layers = 2, Channels = 32, Heads = 4, FfnChannels = 128, VocabSize = 65, PaddedVocabSize = 65, MaxSeqLen = 32 };

    private static TrainOptions Options(string dir, int steps) => new()
    {
        Model = Small, Steps = steps, DecaySteps = 8, WarmupSteps = 2, Batch = 4, SeqLen = 16, MicroBatches = 2, EvalInterval = 4,
        EvalBatches = 2, LearningRate = 3e-3f, MinLearningRate = 3e-4f, OutputDirectory = dir, SampleTokens = 0, LogInterval = 100,
    };

    [Fact]
    public void ResumedRun_EqualsTheUninterruptedOne_BitForBit()
    {
        var a = Wafer.Tests.TempDirs.Create("wafer-train-a-");
        var b = Wafer.Tests.TempDirs.Create("wafer-train-b-");
        var full = Trainer.Run(Options(a, 8), TextWriter.Null);
        Trainer.Run(Options(b, 4), TextWriter.Null);
        var resumed = Trainer.Run(Options(b, 8) with { ResumePath = Path.Combine(b, Trainer.CheckpointFile), Model = null }, TextWriter.Null);
        Assert.Equal(full.StepLosses, resumed.StepLosses);
        Assert.Equal(full.Evals, resumed.Evals);
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, Trainer.CheckpointFile)), File.ReadAllBytes(Path.Combine(b, Trainer.CheckpointFile)));
        Assert.Equal(8, full.StepLosses.Count);
        Assert.Equal(3, full.Evals.Count); // steps 0, 4, 8
    }

    [Fact]
    public void Training_OnTheBuiltInCorpus_LowersTheValidationLoss()
    {
        var dir = Wafer.Tests.TempDirs.Create("wafer-train-");
        var r = Trainer.Run(Options(dir, 40) with { DecaySteps = 40, EvalInterval = 20, EvalBatches = 4, SampleTokens = 50, MicroBatches = 1 }, TextWriter.Null);
        Assert.True(r.Evals[^1].ValLoss < r.Evals[0].ValLoss - 0.5, $"val loss {r.Evals[0].ValLoss} -> {r.Evals[^1].ValLoss}");
        Assert.Equal(50, r.Sample!.Length); // characters: one per token
        Assert.True(r.BytesStreamedPerStep > 0 && r.PeakRssBytes > 0 && r.TokensPerSecond > 0);
        Assert.True(File.Exists(Path.Combine(dir, "loss.csv")) && File.Exists(Path.Combine(dir, "sample.txt")));
    }

    [Fact]
    public void Checkpoint_IsSafetensorsWithTheWeights()
    {
        var dir = Wafer.Tests.TempDirs.Create("wafer-ckpt-");
        Trainer.Run(Options(dir, 0), TextWriter.Null);
        var bytes = File.ReadAllBytes(Path.Combine(dir, Trainer.CheckpointFile));
        var headerLength = (int)BitConverter.ToUInt64(bytes, 0);
        using var header = System.Text.Json.JsonDocument.Parse(bytes.AsMemory(8, headerLength));
        var lnf = header.RootElement.GetProperty("head.lnf.w");
        Assert.Equal("F32", lnf.GetProperty("dtype").GetString());
        var begin = lnf.GetProperty("data_offsets")[0].GetInt64();
        Assert.Equal(1f, BitConverter.ToSingle(bytes, 8 + headerLength + (int)begin)); // LayerNorm weights start at 1
        var wte = header.RootElement.GetProperty("embed.wte").GetProperty("shape");
        Assert.Equal(new[] { 62L, 32L }, wte.EnumerateArray().Select(e => e.GetInt64())); // the built-in corpus has 62 characters
    }

    [Fact]
    public void ResumeWithAnotherModel_IsRejected()
    {
        var dir = Wafer.Tests.TempDirs.Create("wafer-mismatch-");
        Trainer.Run(Options(dir, 0), TextWriter.Null);
        var e = Assert.Throws<WaferInputException>(() => Trainer.Run(Options(dir, 4) with { Model = Small with { Layers = 3 }, ResumePath = Path.Combine(dir, Trainer.CheckpointFile) }, TextWriter.Null));
        Assert.Contains("does not match", e.Message);
    }

    [Fact]
    public void LrSchedule_WarmsUpThenDecaysToTheMinimum()
    {
        Assert.Equal(1e-3f / 101, LrSchedule.At(0, 1e-3f, 1e-4f, 100, 2000), 9);
        Assert.Equal(1e-3f, LrSchedule.At(100, 1e-3f, 1e-4f, 100, 2000), 7);
        Assert.Equal(5.5e-4f, LrSchedule.At(1050, 1e-3f, 1e-4f, 100, 2000), 6);
        Assert.Equal(1e-4f, LrSchedule.At(2000, 1e-3f, 1e-4f, 100, 2000), 7);
        Assert.Equal(1e-4f, LrSchedule.At(5000, 1e-3f, 1e-4f, 100, 2000), 7);
    }
}

public class DataTests
{
    [Fact]
    public void CharTokenizer_RoundTripsAndRejectsUnknownCharacters()
    {
        var tok = CharTokenizer.FromText("hello world");
        Assert.Equal(8, tok.VocabSize);
        Assert.Equal("low rod", tok.Decode(tok.Encode("low rod")));
        var e = Assert.Throws<WaferInputException>(() => tok.Encode("hex"));
        Assert.Contains("'x' at offset 2", e.Message);
        Assert.Equal(tok.Describe(), TokenizerFactory.FromDescription(tok.Describe()).Describe());
    }

    [Fact]
    public void Gpt2Tokenizer_GivesGpt2Ids()
    {
        var tok = new Gpt2BpeTokenizer();
        Assert.Equal(new[] { 15496, 995 }, tok.Encode("Hello world")); // GPT-2's ids, as tiktoken gives them
        Assert.Equal("Hello world", tok.Decode(tok.Encode("Hello world")));
    }

    [Fact]
    public void Corpus_SplitsNinetyTen_AndRejectsShortOrBinaryFiles()
    {
        var text = new string('a', 500) + new string('b', 500);
        var corpus = TextCorpus.Create("t", text, CharTokenizer.FromText(text), 64);
        Assert.Equal(900, corpus.Train.Length);
        Assert.All(corpus.Validation, id => Assert.Equal(1, id));
        Assert.Throws<WaferInputException>(() => TextCorpus.Create("t", "abcdefghij", CharTokenizer.FromText("abcdefghij"), 64));
        var dir = Wafer.Tests.TempDirs.Create("wafer-data-");
        var bin = Path.Combine(dir, "x.bin");
        File.WriteAllBytes(bin, [65, 0, 66]);
        Assert.Contains("binary", Assert.Throws<WaferInputException>(() => TextCorpus.ReadText(bin)).Message);
        Assert.Contains("does not exist", Assert.Throws<Wafer.Core.WaferInputException>(() => TextCorpus.ReadText(Path.Combine(dir, "none.txt"))).Message);
    }

    [Fact]
    public void BatchSampler_TargetsAreInputsShiftedByOne_AndStateReplays()
    {
        var tokens = Enumerable.Range(0, 100).ToArray();
        var s = new BatchSampler(tokens, 2, 5, 42);
        var state = s.State;
        var (x, y) = s.Next();
        for (var i = 0; i < 10; i++) Assert.Equal(x[i] + 1, y[i]);
        var (x2, _) = new BatchSampler(tokens, 2, 5, state).Next();
        Assert.Equal(x, x2);
    }

    [Fact]
    public void ConfigJson_RoundTrips_AndRejectsUnknownFieldsAndBadShapes()
    {
        var json = GptConfigJson.Serialize(GptPresets.GptNeoX20B);
        Assert.Equal(GptPresets.GptNeoX20B, GptConfigJson.Parse(json, "x"));
        Assert.Contains("layerz", Assert.Throws<WaferInputException>(() => GptConfigJson.Parse("{\"layerz\": 3}", "m.json")).Message);
        Assert.Contains("Heads", Assert.Throws<WaferInputException>(() => GptConfigJson.Parse("{\"heads\": 3}", "m.json")).Message);
    }
}

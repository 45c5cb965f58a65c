using Wafer.Core;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Wafer.Gpt.MemoryX;
using Wafer.Gpt.Model;
using Wafer.Gpt.Training;

namespace Wafer.Gpt.Tests;

/// <summary>Bad checkpoints, resumes that would change the run, diverging runs, admission and stale temp files.</summary>
public class RobustnessTests
{
    private static readonly GptConfig Tiny = new() { Name = "tiny", Layers = 1, Channels = 16, Heads = 2, FfnChannels = 32, VocabSize = 65, PaddedVocabSize = 65, MaxSeqLen = 16 };

    private static TrainOptions Options(string dir, int steps) => new()
    {
        Model = Tiny, Steps = steps, DecaySteps = 4, WarmupSteps = 1, Batch = 2, SeqLen = 8, EvalInterval = 1, EvalBatches = 1,
        LearningRate = 1e-2f, MinLearningRate = 1e-3f, OutputDirectory = dir, SampleTokens = 0, LogInterval = 100,
    };

    private static string Checkpoint(string dir) => Path.Combine(dir, Trainer.CheckpointFile);

    [Theory]
    [MemberData(nameof(Plans))]
    public void Plan_CountsWhatTheExecutorAllocates(string model, int batch, int seq)
    {
        var cfg = model switch { "j" => CycleExecutorTests.JLike with { MaxSeqLen = 16 }, "neox" => CycleExecutorTests.NeoXLike with { MaxSeqLen = 16 }, _ => Tiny };
        var layout = new ParameterLayout(cfg);
        using var store = new WeightStore(layout, new InMemoryStorage(layout), new OptimizerConfig(), threads: 2);
        foreach (var precision in new[] { StreamPrecision.Fp32, StreamPrecision.Fp16 })
            Assert.Equal(new GptExecutor(store, batch, seq, precision, new HostSchedule { Threads = 2 }).DeviceBytes, GptExecutor.Plan(layout, batch, seq, precision).DeviceBytes);
    }

    public static TheoryData<string, int, int> Plans() => new() { { "tiny", 1, 8 }, { "tiny", 4, 16 }, { "j", 3, 5 }, { "neox", 2, 16 } };

    /// <summary>Rewrites the checkpoint's header with `edit` (data unchanged); returns the new file's path.</summary>
    private static string Edited(string path, Func<JsonObject, string> edit)
    {
        var bytes = File.ReadAllBytes(path);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, n))!.AsObject();
        var text = Encoding.UTF8.GetBytes(edit(header));
        var pad = (8 - text.Length % 8) % 8;
        var result = new byte[8 + text.Length + pad + bytes.Length - 8 - n];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)(text.Length + pad));
        text.CopyTo(result, 8);
        for (var i = 0; i < pad; i++) result[8 + text.Length + i] = (byte)' ';
        bytes.AsSpan(8 + n).CopyTo(result.AsSpan(8 + text.Length + pad));
        var edited = path + $".{Guid.NewGuid():N}.safetensors";
        File.WriteAllBytes(edited, result);
        return edited;
    }

    public static TheoryData<string, string> BadHeaders() => new()
    {
        { "overlap", "overlaps another" },
        { "hole", "hole" },
        { "all-at-zero", "overlaps another" },
        { "number-metadata", "metadata 'step' is a Number" },
        { "negative-step", "metadata 'step' is '-1'" },
        { "losses-vs-step", "holds 0 step losses" },
        { "missing-key", "lacks 'samplerState'" },
        { "tokenizer-vocabulary", "its tokenizer has 2 characters but its model a vocabulary of" },
        { "duplicate-key", "not valid JSON" },
        { "string-offsets", "not a non-negative integer" },
        { "unknown-dtype", "unknown dtype" },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void MalformedCheckpoint_IsRefused_NamingWhatIsWrong(string kind, string expected)
    {
        var dir = Wafer.Tests.TempDirs.Create("wafer-bad-ckpt-");
        Trainer.Run(Options(dir, 1), TextWriter.Null);
        var path = Edited(Checkpoint(dir), h =>
        {
            var tensors = h.Where(p => p.Key != "__metadata__").Select(p => p.Value!.AsObject()).ToList();
            var meta = h["__metadata__"]!.AsObject();
            switch (kind)
            {
                case "overlap": { var o = tensors[1]["data_offsets"]!.AsArray(); tensors[1]["data_offsets"] = new JsonArray(o[0]!.GetValue<long>() - 4, o[1]!.GetValue<long>() - 4); break; }
                case "hole": { var o = tensors[^1]["data_offsets"]!.AsArray(); tensors[^1]["data_offsets"] = new JsonArray(o[0]!.GetValue<long>() + 4, o[1]!.GetValue<long>() + 4); break; }
                case "all-at-zero": foreach (var t in tensors) { var o = t["data_offsets"]!.AsArray(); t["data_offsets"] = new JsonArray(0L, o[1]!.GetValue<long>() - o[0]!.GetValue<long>()); } break;
                case "number-metadata": meta["step"] = 1; break;
                case "negative-step": meta["step"] = "-1"; break;
                case "losses-vs-step": meta["stepLosses"] = "[]"; break;
                case "missing-key": meta.Remove("samplerState"); break;
                case "tokenizer-vocabulary": meta["tokenizer"] = "char:ab"; break;
                case "duplicate-key": return "{\"__metadata__\": {}, " + h.ToJsonString()[1..];
                case "string-offsets": tensors[0]["data_offsets"] = new JsonArray("0", "4"); break;
                case "unknown-dtype": tensors[0]["dtype"] = "F12"; break;
            }
            return h.ToJsonString();
        });
        var e = Assert.Throws<WaferInputException>(() => Trainer.Run(Options(dir, 2) with { ResumePath = path, Model = null }, TextWriter.Null));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith($"checkpoint {path} is not usable", e.Message);
    }

    [Fact]
    public void Resume_ThatWouldChangeTheRun_IsRefused_UnlessAsked()
    {
        var dir = Wafer.Tests.TempDirs.Create("wafer-resume-");
        Trainer.Run(Options(dir, 2), TextWriter.Null);
        var resume = Options(dir, 4) with { ResumePath = Checkpoint(dir), Model = null, OutputDirectory = Wafer.Tests.TempDirs.Create("wafer-resume-out-") };
        var e = Assert.Throws<WaferInputException>(() => Trainer.Run(resume with { Batch = 4, DecaySteps = 8 }, TextWriter.Null));
        Assert.Contains("batch 2 -> 4", e.Message);
        Assert.Contains("decaySteps 4 -> 8", e.Message);
        Assert.Equal(4, Trainer.Run(resume with { Batch = 4, DecaySteps = 8, AllowResumeChanges = true }, TextWriter.Null).StepLosses.Count);
        Assert.Equal(4, Trainer.Run(resume, TextWriter.Null).StepLosses.Count); // nothing changed: no flag needed
    }

    [Fact]
    public void DivergingRun_StopsAtTheStep_KeepingTheLastGoodCheckpoint()
    {
        var dir = Wafer.Tests.TempDirs.Create("wafer-diverge-");
        var r = Trainer.Run(Options(dir, 6) with { LearningRate = 1e30f, MinLearningRate = 1e29f, WarmupSteps = 0 }, TextWriter.Null);
        Assert.NotNull(r.Diverged);
        Assert.Matches(@"at step \d", r.Diverged);
        Assert.True(r.StepLosses.Count < 6 && r.StepLosses.All(double.IsFinite));
        // The checkpoint is the last good state: it loads, and it is at the last evaluated step.
        var state = ResumeState.Read(Checkpoint(dir));
        Assert.Equal(r.Evals[^1].Step, state.Step);
        Assert.True(File.Exists(Path.Combine(dir, "loss.csv")));
    }

    [Fact]
    public void RunTooLargeForThisMachine_IsRefusedBeforeAllocating_WithTheFigure()
    {
        var dir = Wafer.Tests.TempDirs.Create("wafer-admit-");
        var huge = Tiny with { Channels = 8192, Heads = 64, FfnChannels = 32768, Layers = 64, MaxSeqLen = 64 };
        var e = Assert.Throws<Wafer.Core.WaferInputException>(() => Trainer.Run(Options(dir, 1) with { Model = huge }, TextWriter.Null));
        Assert.Contains("needs", e.Message);
        Assert.Contains("GB of memory", e.Message);
        Assert.Contains("--memoryx", e.Message);
        Assert.False(File.Exists(Checkpoint(dir)));
    }

    [Fact]
    public void StaleTempFiles_OfDeadProcesses_AreRemoved()
    {
        var dir = Wafer.Tests.TempDirs.Create("wafer-stale-");
        var dead = Path.Combine(dir, $".{Trainer.CheckpointFile}.{int.MaxValue - 7}.tmp");
        var mine = Path.Combine(dir, $".loss.csv.{Environment.ProcessId}.tmp");
        File.WriteAllText(dead, "x");
        File.WriteAllText(mine, "x");
        Trainer.Run(Options(dir, 1), TextWriter.Null);
        Assert.False(File.Exists(dead));
        Assert.Empty(Directory.EnumerateFiles(dir, ".*.tmp"));
    }

    [Fact]
    public void CharTextWithoutANewline_TrainsAndSamples()
    {
        var dir = Wafer.Tests.TempDirs.Create("wafer-nonl-");
        var data = Path.Combine(dir, "data.txt");
        File.WriteAllText(data, string.Concat(Enumerable.Repeat("abcde fghij klmno ", 200)));
        var r = Trainer.Run(Options(dir, 1) with { DataPath = data, SampleTokens = 10 }, TextWriter.Null);
        Assert.Equal(10, r.Sample!.Length);
    }
}

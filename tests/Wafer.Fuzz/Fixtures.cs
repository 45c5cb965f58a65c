// The valid files every mutation starts from, written once per fuzz run into the fixtures folder: model, wafer and
// system JSON files, a data text, and a checkpoint from a real two-step training run of a tiny model.
using System.Text.Json;
using System.Text.Json.Nodes;
using Wafer.Fabric.Config;
using Wafer.Model.Systems;

namespace Wafer.Fuzz;

public static class Fixtures
{
    private static string _dir = "";
    private static readonly Dictionary<string, byte[]> Cache = [];

    public static string Text(string name) => System.Text.Encoding.UTF8.GetString(Bytes(name));

    public static byte[] Bytes(string name)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(name, out var b)) Cache[name] = b = File.ReadAllBytes(Path.Combine(_dir, name));
            return b;
        }
    }

    public static void Write(string dir)
    {
        _dir = dir;
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "tiny.json"), """{"name": "fz", "layers": 1, "channels": 16, "heads": 2, "ffnChannels": 32, "maxSeqLen": 16}""");
        File.WriteAllText(Path.Combine(dir, "rotary.json"),
            """{"name": "fzj", "layers": 2, "channels": 16, "heads": 2, "ffnChannels": 32, "maxSeqLen": 16, "positions": "rotary", "rotaryDims": 4, "rotaryInterleaved": true, "parallelResidual": true, "sharedBlockNorm": true, "tiedEmbedding": false, "attentionBias": false, "headBias": true}""");
        // GPT-3 175B's shape (Brown et al. 2020, Table 2.1): mutations scale it past any machine.
        File.WriteAllText(Path.Combine(dir, "huge.json"), """{"name": "gpt3-175b", "layers": 96, "channels": 12288, "heads": 96, "ffnChannels": 49152, "vocabSize": 50257, "paddedVocabSize": 50304, "maxSeqLen": 2048}""");
        File.WriteAllText(Path.Combine(dir, "wafer.json"), WaferConfigJson.Serialize(WaferPresets.Tiny));
        File.WriteAllText(Path.Combine(dir, "gpu.json"), SystemPresets.ToJson(GpuSystem.A100_80));
        var cerebras = JsonSerializer.SerializeToNode(CerebrasSystem.Cs2, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase })!.AsObject();
        cerebras.Remove("wafer");
        var sys = new JsonObject { ["kind"] = "cerebras" };
        foreach (var (k, v) in cerebras) sys[k] = v?.DeepClone();
        File.WriteAllText(Path.Combine(dir, "cerebras.json"), sys.ToJsonString());
        File.WriteAllText(Path.Combine(dir, "data.txt"), Wafer.Gpt.Data.TextCorpus.DefaultText()[..20_000]);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = Wafer.Cli.Program.Run(["train", "--model", Path.Combine(dir, "tiny.json"), "--data", Path.Combine(dir, "data.txt"), "--steps", "2",
            "--batch", "2", "--seq", "8", "--eval-interval", "1", "--eval-batches", "1", "--sample-tokens", "0", "--out", Path.Combine(dir, "train")], stdout, stderr);
        if (code != 0) throw new InvalidOperationException($"the fixture checkpoint's training run failed: {stderr}");
        File.Copy(Path.Combine(dir, "train", "checkpoint.safetensors"), Path.Combine(dir, "ckpt.safetensors"), overwrite: true);
        // Run folders for `wafer report`: what run and estimate --out write, and a validate.json of the same form.
        foreach (var args in new[] { new[] { "run", "gemv-grid", "--out", Path.Combine(dir, "run") }, ["estimate", "--model", "nano", "--vs", "a100-80gb", "--out", Path.Combine(dir, "estimate")] })
            if (Wafer.Cli.Program.Run(args, stdout, stderr) != 0) throw new InvalidOperationException($"the fixture {args[0]} failed: {stderr}");
        File.WriteAllText(Path.Combine(dir, "validate.json"), """
            {"rows":[{"name":"peak dense fp16","published":7.5e15,"simulated":7.48e15,"unit":"flop/s","relativeError":-0.0027,"tolerance":0.1,"within":true,"how":"config"}],
             "skipped":[{"name":"x","published":"1 s","why":"not yet"}],"gitRevision":"abc"}
            """);
        lock (Cache) Cache.Clear();
    }
}

// The cases: for every command, its options drawn from valid values (small enough that a valid case finishes in
// seconds: a long but valid job such as --steps 1000000 is the user's choice, not bad input) and bad ones (wrong
// type, zero, negative, past int, non-finite, empty, missing files, devices, folders), plus the JSON files, data files
// and checkpoints those options name, mutated. Case i of seed s is the same on every run.
using System.Text;

namespace Wafer.Fuzz;

public static class CaseGenerator
{
    private static readonly string[] Programs =
        ["gemv-1pe", "gemv-row", "gemv-grid", "gemv", "pipeline", "broadcast", "reduce", "stream", "matvec", "wsmm", "wsmm-overlap", "wsmm-fp16",
         "wsmm-sparse", "wsmm-dx", "wsmm-dw", "broadcast2d", "allreduce", "alltoall", "alltoall-col", "fft3d", "stencil25", "meshgemv", "summa", "layernorm", "softmax", "gelu", "residual",
         "attention", "reduce-tree", "reduce-2phase", "reduce-ktree", "allreduce-ktree", "transformer-layer", "transformer-layer-fp16", "transformer-product", "list", "nope", ""];

    public static FuzzCase Make(long seed, int index)
    {
        // Every 50th case is a report case, drawn from a stream of its own so that the other cases stay as they were.
        if (index % 50 == 49) return Report(new Rand(seed ^ 0x7e9047, index), index);
        var r = new Rand(seed, index);
        r.Lean = r.Chance(0.5) ? 0.9 : 0;
        var files = new Dictionary<string, byte[]>();
        var roll = r.Next(100);
        var (kind, args) = roll switch
        {
            < 30 => ("train", Train(r, files)),
            < 42 => ("sample", Sample(r, files)),
            < 62 => ("estimate", Estimate(r, files)),
            < 82 => ("run", Run(r, files)),
            < 89 => ("config", Config(r, files)),
            // A valid validate runs its simulations for about a minute: only its bad arguments are cases.
            < 90 => ("validate", ["validate", r.Pick("--bogus", "x", "--json=1", "--json --json", "-j")]),
            _ => ("argv", Garbage(r)),
        };
        // Now and then an option twice, an unknown one or a stray argument.
        if (r.Chance(0.05)) args = [.. args, r.Pick("--bogus", "extra", "--", "-h", "--help", args.Length > 1 ? args[1] : "x")];
        return new FuzzCase(index, kind, args, files);
    }

    // A file argument: a fixture, a mutation of it written into the case's folder, or a bad path.
    private static string FileArg(Rand r, Dictionary<string, byte[]> files, string fixture, Func<Rand, byte[]> mutate, double valid = 0.35)
    {
        var roll = r.NextDouble();
        if (roll < valid + (1 - valid) * r.Lean * 0.5) return "{fx}/" + fixture;
        if (roll < 0.85)
        {
            var name = $"m{files.Count}{Path.GetExtension(fixture)}";
            files[name] = mutate(r);
            return "{dir}/" + name;
        }
        return r.Pick(Rand.BadPaths);
    }

    private static double NextDouble(this Rand r) => r.Next(1_000_000) / 1e6;

    // small: the valid model when big ones are not allowed (a cycle-level run gets the tiny fixture: nano on the
    // simulated wafer takes minutes a step, a long valid job rather than a fuzz case).
    private static string ModelArg(Rand r, Dictionary<string, byte[]> files, bool allowBig, string small = "nano") =>
        r.Next(10) switch
        {
            < 3 => allowBig ? r.Pick("nano", "shakespeare-char", "gpt2-124m", "gpt3-xl", "gptj-6b", "gpt3-13b", "gpt-neox-20b") : small,
            < 4 => r.Pick("gpt5", "", "NANO", "nano.json"),
            _ => FileArg(r, files, r.Pick("tiny.json", "rotary.json"), rr => JsonMutator.Mutate(Fixtures.Text(rr.Chance(0.5) ? "tiny.json" : "rotary.json"), rr)),
        };

    private static string[] Train(Rand r, Dictionary<string, byte[]> files)
    {
        var a = new List<string> { "train", "--out", r.Chance(0.95) ? "{dir}/out" : r.Pick("", "{fx}/data.txt", "/proc/wafer", "{dir}/a/b/c") };
        var cycle = r.Chance(0.15);
        // Valid runs stay small: a tiny model or nano, few steps, small batches.
        a.AddRange(["--steps", r.Value(0.75, ["0", "1", "2", "3"], Rand.BadInts.Where(v => v != "2147483647").ToArray())]);
        a.AddRange(["--eval-batches", r.Value(0.8, ["1", "2"], Rand.BadInts)]);
        a.AddRange(["--sample-tokens", r.Value(0.8, ["0", "5", "20"], Rand.BadInts.Where(v => v != "2147483647").ToArray())]);
        if (cycle)
        {
            a.AddRange(["--fidelity", "cycle", "--model", r.Chance(0.8) ? "{fx}/tiny.json" : ModelArg(r, files, false, "{fx}/tiny.json")]);
            a.AddRange(["--batch", r.Value(0.8, ["1", "2"], Rand.BadInts), "--seq", r.Value(0.8, ["4", "8"], Rand.BadInts)]);
            if (r.Chance(0.5)) a.AddRange(["--region", r.Value(0.4, ["2x4", "1x2", "4x2", "8x1"], ["0x0", "x", "2x", "-1x2", "99999999x1", "1x1x1", "2x16", "3x4", "1000x1000", ""])]);
            if (r.Chance(0.3)) a.AddRange(["--wafer", r.Chance(0.5) ? r.Pick("tiny", "cs2", "cs3", "cs9") : FileArg(r, files, "wafer.json", rr => JsonMutator.Mutate(Fixtures.Text("wafer.json"), rr))]);
            if (r.Chance(0.5)) a.Add("--no-fast-reference");
        }
        else
        {
            if (r.Chance(0.6)) a.AddRange(["--model", ModelArg(r, files, r.Chance(0.2))]);
            if (r.Chance(0.5)) a.AddRange(["--batch", r.Value(0.7, ["1", "2", "4", "12"], [.. Rand.BadInts, "5000", "100000"])]);
            if (r.Chance(0.5)) a.AddRange(["--seq", r.Value(0.7, ["4", "8", "16", "64"], [.. Rand.BadInts, "100000", "65"])]);
            if (r.Chance(0.1)) a.AddRange(["--region", "2x4"]);
        }
        if (r.Chance(0.3)) a.AddRange(["--data", FileArg(r, files, "data.txt", DataFile)]);
        if (r.Chance(0.2)) a.AddRange(["--tokenizer", r.Value(0.6, ["char", "gpt2"], ["x", "", "CHAR", "bpe"])]);
        if (r.Chance(0.2)) a.AddRange(["--micro-batches", r.Value(0.7, ["1", "2"], Rand.BadInts.Where(v => v != "2147483647").ToArray())]);
        if (r.Chance(0.3)) a.AddRange(["--lr", r.Value(0.5, ["1e-3", "0.01", "1e9", "1e30"], Rand.BadFloats)]);
        if (r.Chance(0.2)) a.AddRange(["--warmup", r.Value(0.7, ["0", "1", "100", "2147483647"], Rand.BadInts)]);
        if (r.Chance(0.2)) a.AddRange(["--seed", r.Value(0.7, ["0", "1", "-5", "2147483647"], Rand.BadInts)]);
        if (r.Chance(0.3)) a.AddRange(["--eval-interval", r.Value(0.7, ["1", "2", "200"], Rand.BadInts)]);
        if (r.Chance(0.2)) a.AddRange(["--precision", r.Value(0.7, ["fp32", "bf16", "fp16"], ["fp8", "", "FP32", "int8"])]);
        if (r.Chance(0.15)) a.AddRange(["--memoryx", r.Value(0.6, ["{dir}/mx"], ["", "{fx}/data.txt", "/proc/wafer", "/dev/null"])]);
        if (r.Chance(0.2)) a.AddRange(["--resume", FileArg(r, files, "ckpt.safetensors", rr => CheckpointMutator.Mutate(Fixtures.Bytes("ckpt.safetensors"), rr), 0.25)]);
        if (r.Chance(0.1)) a.Add("--no-checkpoint");
        if (r.Chance(0.2)) a.AddRange(["--threads", r.Value(0.6, ["1", "2"], [.. Rand.BadInts, "100000"])]);
        if (r.Chance(0.3)) a.Add("--json");
        return [.. a];
    }

    /// <summary>Data files: empty, binary, one character, no newline, very long lines, invalid UTF-8, a BOM, short.</summary>
    private static byte[] DataFile(Rand r)
    {
        var text = Fixtures.Text("data.txt");
        return r.Next(9) switch
        {
            0 => [],
            1 => Enumerable.Range(0, 5000).Select(i => (byte)(i * 131 % 256)).ToArray(),
            2 => Encoding.UTF8.GetBytes(new string('a', r.Pick(1, 100, 100_000))),
            3 => Encoding.UTF8.GetBytes(text.Replace("\n", " ")),
            4 => Encoding.UTF8.GetBytes(text[..r.Next(1, 200)]),
            5 => [.. Encoding.UTF8.GetBytes(text[..2000]), 0xFF, 0xFE, 0x80, .. Encoding.UTF8.GetBytes(text[2000..])],
            6 => [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(text)],
            7 => Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 3000).Select(i => char.ConvertFromUtf32(0x1F600 + i % 80)))),
            _ => Encoding.Unicode.GetBytes(text),
        };
    }

    private static string[] Sample(Rand r, Dictionary<string, byte[]> files)
    {
        var a = new List<string> { "sample" };
        if (r.Chance(0.95)) a.AddRange(["--checkpoint", FileArg(r, files, "ckpt.safetensors", rr => CheckpointMutator.Mutate(Fixtures.Bytes("ckpt.safetensors"), rr), 0.3)]);
        if (r.Chance(0.5)) a.AddRange(["--prompt", r.Pick("", "First", "\n", "日本語", "€", "zzzz", "\u0000", new string('e', 100))]);
        a.AddRange(["--tokens", r.Value(0.8, ["0", "1", "10", "40"], Rand.BadInts.Where(v => v != "2147483647").ToArray())]);
        if (r.Chance(0.4)) a.AddRange(["--temperature", r.Value(0.5, ["0.8", "1", "1e-30", "100"], Rand.BadFloats)]);
        if (r.Chance(0.4)) a.AddRange(["--top-k", r.Value(0.6, ["0", "1", "5", "100000"], Rand.BadInts)]);
        if (r.Chance(0.2)) a.AddRange(["--seed", r.Value(0.6, ["1", "-1"], Rand.BadInts)]);
        return [.. a];
    }

    private static string[] Estimate(Rand r, Dictionary<string, byte[]> files)
    {
        var a = new List<string> { "estimate" };
        if (r.Chance(0.95)) a.AddRange(["--model", r.Chance(0.3) ? FileArg(r, files, "huge.json", rr => JsonMutator.Mutate(Fixtures.Text("huge.json"), rr)) : ModelArg(r, files, true)]);
        if (r.Chance(0.4)) a.AddRange(["--system", r.Chance(0.5) ? r.Pick("cs2", "cs3", "a100-40gb", "a100-80gb", "h100", "tpu", "") : SystemFile(r, files)]);
        if (r.Chance(0.3)) a.AddRange(["--systems", r.Value(0.6, ["1", "2", "16", "1024"], Rand.BadInts)]);
        if (r.Chance(0.3)) a.AddRange(["--batch", r.Value(0.6, ["1", "121", "100000"], [.. Rand.BadInts, "9223372036854775807"])]);
        if (r.Chance(0.3)) a.AddRange(["--seq", r.Value(0.6, ["1", "128", "2048"], [.. Rand.BadInts, "100000"])]);
        if (r.Chance(0.3)) a.AddRange(["--tokens", r.Value(0.5, ["1e9", "1", "3e11"], [.. Rand.BadFloats, "1e300"])]);
        if (r.Chance(0.3)) a.AddRange(["--vs", r.Chance(0.5) ? r.Pick("a100-40gb", "a100-80gb", "h100", "cs2", "") : SystemFile(r, files)]);
        if (r.Chance(0.3)) a.AddRange(["--gpus", r.Value(0.6, ["1", "8", "64", "4096"], Rand.BadInts)]);
        if (r.Chance(0.2))
            a.AddRange(["--layout", r.Chance(0.5) ? r.Pick("1,1,64,1", "8,1,8,1", "8,2,4,2,zero", "1,1,1,1")
                                                  : r.Pick("", "0,1,64,1", "8,2", "a,b,c,d", "8,2,4,1,zero,x", "2147483647,2147483647,2,1", "8,2,4,-1", "4,4,4,4,ZERO")]);
        if (r.Chance(0.4)) a.Add("--json");
        return [.. a];
    }

    private static string SystemFile(Rand r, Dictionary<string, byte[]> files)
    {
        var fixture = r.Pick("gpu.json", "cerebras.json");
        return FileArg(r, files, fixture, rr => JsonMutator.Mutate(Fixtures.Text(fixture), rr), 0.2);
    }

    private static string[] Run(Rand r, Dictionary<string, byte[]> files)
    {
        var a = new List<string> { "run", r.Pick(Programs), "--out", r.Chance(0.95) ? "{dir}/out" : r.Pick("", "{fx}/data.txt") };
        // Valid sizes stay small (the full rectangle is a benchmark, not a fuzz case).
        a.AddRange(["--wafer", r.Chance(0.8) ? r.Pick("tiny", "cs2", "cs3", "nope") : FileArg(r, files, "wafer.json", rr => JsonMutator.Mutate(Fixtures.Text("wafer.json"), rr))]);
        a.AddRange(["--width", r.Value(0.8, ["1", "2", "4", "7", "8"], [.. Rand.BadInts, "100000"])]);
        a.AddRange(["--height", r.Value(0.8, ["1", "2", "4", "5", "8"], [.. Rand.BadInts, "100000"])]);
        if (r.Chance(0.5)) a.AddRange(["--length", r.Value(0.8, ["1", "4", "8", "13", "16"], [.. Rand.BadInts, "100000"])]);
        if (r.Chance(0.5)) a.AddRange(["--block", r.Value(0.8, ["1", "2", "4", "8", "16"], [.. Rand.BadInts, "100000"])]);
        if (r.Chance(0.4)) a.AddRange(["--outputs", r.Value(0.8, ["1", "2", "4", "8"], [.. Rand.BadInts, "100000"])]);
        if (r.Chance(0.2)) a.AddRange(["--sparsity", r.Value(0.6, ["0", "0.5", "0.9"], [.. Rand.BadFloats, "1", "2"])]);
        if (r.Chance(0.2)) a.AddRange(["--steps", r.Value(0.6, ["1", "2"], Rand.BadInts.Where(v => v != "2147483647").ToArray())]);
        if (r.Chance(0.2)) a.AddRange(["--seq", r.Value(0.6, ["2", "4", "8"], Rand.BadInts)]);
        if (r.Chance(0.1)) a.AddRange(["--sink-cycles", r.Value(0.6, ["0", "1", "5"], Rand.BadInts.Where(v => v != "2147483647").ToArray())]);
        if (r.Chance(0.2)) a.AddRange(["--seed", r.Value(0.6, ["1", "7"], Rand.BadInts)]);
        if (r.Chance(0.3)) a.AddRange(["--threads", r.Value(0.6, ["1", "2", "3"], [.. Rand.BadInts, "100000"])]);
        if (r.Chance(0.2)) a.AddRange(["--max-cycles", r.Value(0.5, ["1", "100", "100000"], Rand.BadInts)]);
        if (r.Chance(0.2)) a.AddRange(["--trace-pe", r.Value(0.5, ["0,0", "1,1"], ["x", "-1,5", "1000,1000", "1", "1,2,3", ""])]);
        if (r.Chance(0.1)) a.AddRange(["--trace-color", r.Value(0.5, ["0", "1"], ["32", "-1", "x", ""])]);
        if (r.Chance(0.4)) a.Add("--json");
        return [.. a];
    }

    private static string[] Config(Rand r, Dictionary<string, byte[]> files) =>
        ["config", "--wafer", r.Chance(0.2) ? r.Pick("tiny", "cs2", "cs3", "x", "") : FileArg(r, files, "wafer.json", rr => JsonMutator.Mutate(Fixtures.Text("wafer.json"), rr), 0.1)];

    // `wafer report DIR` on the case's folder holding a run file (a fixture as wafer wrote it, or mutated), or on a bad
    // path; and the --out of estimate and validate pointed at places that cannot hold a folder (validate's valid runs
    // take a minute: only its bad --out is a case).
    private static FuzzCase Report(Rand r, int index)
    {
        var files = new Dictionary<string, byte[]>();
        var roll = r.Next(10);
        if (roll < 7)
        {
            var (name, fixture) = r.Pick(("summary.json", "train/summary.json"), ("stats.json", "run/stats.json"), ("estimate.json", "estimate/estimate.json"), ("validate.json", "validate.json"));
            files[name] = r.Chance(0.3) ? Fixtures.Bytes(fixture) : JsonMutator.Mutate(Fixtures.Text(fixture), r);
            if (name == "summary.json" && r.Chance(0.8))
                files["loss.csv"] = r.Chance(0.4) ? Fixtures.Bytes("train/loss.csv") : MutateLines(Fixtures.Text("train/loss.csv"), r);
            return new FuzzCase(index, "report", ["report", "{dir}"], files);
        }
        if (roll < 8) return new FuzzCase(index, "report", ["report", r.Pick([.. Rand.BadPaths, "{dir}/a", "/"])], files);
        var outPath = r.Pick("/dev/null/x", "{fx}/data.txt", "/proc/self/x", "{fx}/data.txt/sub", "");
        return new FuzzCase(index, "report", r.Chance(0.5) ? ["estimate", "--model", "nano", "--out", outPath] : ["validate", "--out", outPath], files);
    }

    private static byte[] MutateLines(string csv, Rand r)
    {
        var lines = csv.Split('\n').ToList();
        for (var k = r.Next(1, 4); k > 0 && lines.Count > 0; k--)
        {
            var i = r.Next(lines.Count);
            lines[i] = r.Pick("step,x,1,", "step,1,NaN,", "step,2147483648,1,", ",,,", "step", "fast_reference_step,-5,1e308,", "\u0000\u0001", "step,1,1e-320,2", new string('9', 400));
        }
        return Encoding.UTF8.GetBytes(string.Join('\n', lines));
    }

    private static string[] Garbage(Rand r)
    {
        string[] words = ["train", "run", "sample", "estimate", "config", "validate", "--help", "-h", "--version", "", "x", "--", "-", "--steps", "1", "--json", "\u00e9", "--model=nano", "@file"];
        var argv = Enumerable.Range(0, r.Next(0, 5)).Select(_ => r.Pick(words)).ToList();
        // train and validate with no bad word would start their real work (a default training run, the minute of
        // validate's simulations): long valid jobs are not bad input, so these get a stray word to refuse.
        if (argv.Count > 0 && argv[0] is "train" or "validate" && argv.All(w => w is "train" or "validate" or "--json" or "--steps" or "1" or "--model=nano"))
            argv.Add("--bogus");
        return [.. argv];
    }
}

// Matmul benchmark: GFLOP/s of Gemm on the shapes GPT training uses, against a naive triple loop measured in the
// same run. Usage: dotnet run -c Release --project bench/Wafer.Bench [threads]
// Or two builds' training steps paired in one process: ... -- compare A/Wafer.Gpt.dll B/Wafer.Gpt.dll (BuildComparison.cs).
using Wafer.Core;
using System.Diagnostics;
using Wafer.Gpt.Numerics;

if (args.Length > 0 && args[0] == "compare") return BuildComparison.Run(args[1..]);

var threads = args.Length > 0 ? int.Parse(args[0]) : Environment.ProcessorCount;
Console.WriteLine($"threads {threads}, {Environment.ProcessorCount} cores");
PrintMachine("now", threads);
Console.WriteLine("| product | M x N x K | Gemm GFLOP/s | naive GFLOP/s | ratio |");
Console.WriteLine("|---|---|---|---|---|");
Run("nano qkv forward (BT 768, C 128 -> 384)", 768, 384, 128, naive: true, threads);
Run("nano fc forward (BT 768, C 128 -> 512)", 768, 512, 128, naive: true, threads);
Run("nano dweight of fc (512 x 128, sum over 768)", 512, 128, 768, naive: true, threads, transposedA: true);
Run("gpt2-124m fc forward (BT 256, 768 -> 3072)", 256, 3072, 768, naive: false, threads);
Run("gpt2-124m lm head (BT 256, 768 -> 50304)", 256, 50304, 768, naive: false, threads);
Run("square 1024", 1024, 1024, 1024, naive: false, threads);
TrainStep("nano (L4 C128 NH4 V65, B12 T64)", GptPresets.Nano, 12, 64, threads);
TrainStep("gpt2-124m (B4 T64)", GptPresets.Gpt2_124M, 4, 64, threads);
PrintMachine("after", threads);
return 0;

// What the machine gives at this moment (FMA ceiling, memory read rates), so a run's times can be read against it.
static void PrintMachine(string when, int threads)
{
    var fma = FmaCeiling.Measure(threads);
    Console.WriteLine($"FMA ceiling {when}: {fma.One:F1} GFLOP/s on 1 thread, {fma.All:F1} on {threads} ({fma.All / fma.One:F2}x)");
    if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
    {
        var wide = FmaCeiling.Measure(threads, wide: true);
        Console.WriteLine($"512-bit FMA ceiling {when}: {wide.One:F1} GFLOP/s on 1 thread, {wide.All:F1} on {threads} ({wide.All / wide.One:F2}x)");
    }
    var memory = MemoryRate.Measure();
    Console.WriteLine($"memory {when} (1 thread reading): {memory.Cache:F1} GB/s from a 4 MB buffer, {memory.Dram:F1} from 256 MB");
}

// One training step (forward, backward, AdamW in MemoryX) on random tokens, MemoryX in memory, no data loading.
static void TrainStep(string label, GptConfig cfg, int b, int t, int threads)
{
    var layout = new ParameterLayout(cfg);
    using var store = new Wafer.Gpt.MemoryX.WeightStore(layout, new Wafer.Gpt.MemoryX.InMemoryStorage(layout), new Wafer.Gpt.MemoryX.OptimizerConfig(), threads);
    store.Initialise(1);
    var model = new Wafer.Gpt.Model.GptExecutor(store, b, t, Wafer.Gpt.Model.StreamPrecision.Fp32, new Wafer.Gpt.Model.HostSchedule { Threads = threads });
    var rng = new Random(1);
    var inputs = Enumerable.Range(0, b * t).Select(_ => rng.Next(cfg.VocabSize)).ToArray();
    var targets = Enumerable.Range(0, b * t).Select(_ => rng.Next(cfg.VocabSize)).ToArray();
    void Step()
    {
        model.TrainPass(inputs, targets, lastPassOfStep: true);
        store.EndStep(1e-4f, 1);
    }
    Step(); // two warm-up steps: first touch of MemoryX state, pooled buffers
    Step();
    var times = new List<double>();
    var sw = Stopwatch.StartNew();
    while (sw.Elapsed.TotalSeconds < 5 || times.Count < 5)
    {
        var step = Stopwatch.StartNew();
        Step();
        times.Add(step.Elapsed.TotalMilliseconds);
    }
    var ms = sw.Elapsed.TotalMilliseconds / times.Count;
    times.Sort();
    // The mean is the headline (what a training run sees); this machine's step times are spread by a co-tenant (see
    // BENCHMARKS.md), so the median, 10th percentile and fastest step are shown beside it.
    Console.WriteLine($"train step {label}: {ms:F1} ms/step, {b * t / (ms / 1000):F0} tokens/s ({times.Count} steps; " +
                      $"median {times[times.Count / 2]:F1}, p10 {times[times.Count / 10]:F1}, fastest {times[0]:F1} ms); " +
                      $"its products' {MatmulFlops(cfg, b * t) / 1e9:F2} GFLOP at {MatmulFlops(cfg, b * t) / ms / 1e6:F1} GFLOP/s");
}

// The step's matrix products (forward, input and weight gradients: 6 FLOPs per weight per token), attention's
// T x T products left out: L (4C^2 + 2CF) block weights and the V x C head.
static double MatmulFlops(GptConfig cfg, int tokens)
{
    var weights = cfg.Layers * (4.0 * cfg.Channels * cfg.Channels + 2.0 * cfg.Channels * cfg.FfnChannels) + (double)cfg.PaddedVocabSize * cfg.Channels;
    return 6 * weights * tokens;
}

static void Run(string label, int m, int n, int k, bool naive, int threads, bool transposedA = false)
{
    var rng = new Random(1);
    var a = new float[m * k];
    var b = new float[k * n];
    for (var i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
    for (var i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble();
    var c = new float[m * n];
    int aRow = transposedA ? 1 : k, aCol = transposedA ? m : 1;
    var flops = 2.0 * m * n * k;
    double Time(Action f)
    {
        // Warm up for 0.5 s first: the JIT's tiers (and on-stack replacement of the micro-kernel's loop) settle after a
        // few dozen calls, and timing them with the rest understated the first product by up to 2x.
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 0.5) f();
        var reps = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < 1.0 || reps < 3) { f(); reps++; }
        return sw.Elapsed.TotalSeconds / reps;
    }
    var fast = flops / Time(() => Gemm.Multiply(m, n, k, a, aRow, aCol, b, n, 1, c, n, false, threads)) / 1e9;
    var slow = double.NaN;
    if (naive)
        slow = flops / Time(() =>
        {
            for (var i = 0; i < m; i++)
                for (var j = 0; j < n; j++)
                {
                    float s = 0;
                    for (var p = 0; p < k; p++) s += a[i * aRow + p * aCol] * b[p * n + j];
                    c[i * n + j] = s;
                }
        }) / 1e9;
    Console.WriteLine($"| {label} | {m} x {n} x {k} | {fast:F1} | {(naive ? slow.ToString("F2") : "-")} | {(naive ? (fast / slow).ToString("F0") + "x" : "-")} |");
}

// Two builds of Wafer.Gpt timed against each other in one process: each loaded in its own AssemblyLoadContext, training
// steps alternated A B, B A, A B ... so that both see the same moment of the machine. On the 2-core machine this project
// is measured on, whole-step times drift by tens of percent between runs minutes apart (see BENCHMARKS.md), which hid
// every change under ~10 %; the paired ratio's median resolves ~1-2 % (A against a copy of itself: 0.989).
// Usage: dotnet run -c Release --project bench/Wafer.Bench -- compare A/Wafer.Gpt.dll B/Wafer.Gpt.dll [pairs] [nano|gpt2-124m]
//        [steps per sample]
// where A/ and B/ are copies of two builds' src/Wafer.Gpt/bin/Release/net10.0 folders. A sample is 2 nano steps (1 for
// gpt2-124m) by default: each build's step then follows the other's, which has moved its own ~50 MB through the caches,
// so what a build keeps in cache from one step to the next is lost either way. A change to that (a smaller footprint)
// wants longer samples, e.g. 40 steps: most of each sample then runs after the build's own steps.
using Wafer.Core;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.Loader;

internal static class BuildComparison
{
    private static int Refuse(string message)
    {
        Console.Error.WriteLine(message);
        return 2;
    }

    public static int Run(string[] args)
    {
        if (args.Length < 2 || !File.Exists(args[0]) || !File.Exists(args[1]))
        {
            Console.Error.WriteLine("compare: give two Wafer.Gpt.dll paths (copies of two builds' output folders) [pairs] [nano|gpt2-124m] [steps per sample]");
            return 2;
        }
        var pairs = 100;
        if (args.Length > 2 && (!int.TryParse(args[2], out pairs) || pairs <= 0))
            return Refuse($"compare: pairs must be a positive whole number, not '{args[2]}'");
        if (args.Length > 3 && args[3] is not ("nano" or "gpt2-124m"))
            return Refuse($"compare: the model is nano or gpt2-124m, not '{args[3]}'");
        var gpt2 = args.Length > 3 && args[3] == "gpt2-124m";
        var stepsPerSample = gpt2 ? 1 : 2;
        if (args.Length > 4 && (!int.TryParse(args[4], out stepsPerSample) || stepsPerSample <= 0))
            return Refuse($"compare: steps per sample must be a positive whole number, not '{args[4]}'");
        var a = new Runner(args[0], gpt2);
        var b = new Runner(args[1], gpt2);
        for (var i = 0; i < (gpt2 ? 2 : 20); i++) { a.Step(); b.Step(); } // JIT tiers and first touches, both
        List<double> ta = [], tb = [];
        for (var i = 0; i < pairs; i++)
        {
            var (first, second) = i % 2 == 0 ? (a, b) : (b, a); // neither always runs first
            var t1 = first.Time(stepsPerSample);
            var t2 = second.Time(stepsPerSample);
            (first == a ? ta : tb).Add(t1);
            (second == a ? ta : tb).Add(t2);
        }
        var ratios = tb.Zip(ta, (y, x) => y / x).Order().ToList();
        ta.Sort();
        tb.Sort();
        Console.WriteLine($"{(gpt2 ? "gpt2-124m B4 T64" : "nano B12 T64")}, {pairs} pairs of {stepsPerSample}-step samples: A median {ta[pairs / 2]:F1} ms (min {ta[0]:F1}), " +
                          $"B median {tb[pairs / 2]:F1} ms (min {tb[0]:F1}); B/A paired: median {ratios[pairs / 2]:F3}, " +
                          $"quartiles {ratios[pairs / 4]:F3} .. {ratios[3 * pairs / 4]:F3}");
        // Both trained the same steps on the same tokens from the same initial weights: a change meant to keep the
        // arithmetic shows it here.
        var same = a.Losses.SequenceEqual(b.Losses);
        Console.WriteLine($"losses of the {a.Losses.Count} steps: {(same ? "bit-identical" : $"differ (last A {a.Losses[^1]:R}, B {b.Losses[^1]:R})")}");
        return 0;
    }

    /// <summary>One build's trainer on random tokens (as the train-step benchmark), reached by reflection.</summary>
    private sealed class Runner
    {
        private readonly object _executor, _store;
        private readonly MethodInfo _forward, _backward, _endStep;
        private readonly MethodInfo? _trainPass;
        private readonly int[] _inputs, _targets;

        public Runner(string dll, bool gpt2)
        {
            // Builds differ in where types live (the shapes moved from Wafer.Gpt to Wafer.Core) and in how threads are
            // passed (a static Gemm.Threads before; WeightStore's and the executor's HostSchedule's now): both are met.
            var context = new IsolatedBuild(Path.GetFullPath(dll));
            var asm = context.LoadFromAssemblyPath(Path.GetFullPath(dll));
            var corePath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(dll))!, "Wafer.Core.dll");
            var core = File.Exists(corePath) ? context.LoadFromAssemblyPath(corePath) : null;
            Type T(string name) =>
                asm.GetType("Wafer.Gpt." + name) ?? asm.GetType(name) ?? core?.GetType("Wafer.Core." + name) ?? throw new InvalidOperationException($"{dll} has no {name}");
            T("Numerics.Gemm").GetProperty("Threads")?.SetValue(null, 2);
            var cfg = T("GptPresets").GetField(gpt2 ? "Gpt2_124M" : "Nano")!.GetValue(null);
            var layout = Activator.CreateInstance(T("ParameterLayout"), cfg);
            var storage = Activator.CreateInstance(T("MemoryX.InMemoryStorage"), layout);
            var optimizer = Activator.CreateInstance(T("MemoryX.OptimizerConfig"));
            var storeCtor = T("MemoryX.WeightStore").GetConstructors().Single();
            _store = storeCtor.Invoke(storeCtor.GetParameters().Length == 4 ? [layout, storage, optimizer, 2] : [layout, storage, optimizer]);
            _store.GetType().GetMethod("Initialise")!.Invoke(_store, [1]);
            var ctor = T("Model.GptExecutor").GetConstructors().Single(c => c.GetParameters().Length is 4 or 5);
            int b = gpt2 ? 4 : 12, t = 64, vocab = gpt2 ? 50257 : 65;
            var fp32 = Enum.ToObject(ctor.GetParameters()[3].ParameterType, 0);
            object? host = null;
            if (ctor.GetParameters().Length == 5)
            {
                host = Activator.CreateInstance(ctor.GetParameters()[4].ParameterType)!;
                host.GetType().GetProperty("Threads")!.SetValue(host, 2);
            }
            _executor = ctor.Invoke(host is null ? [_store, b, t, fp32] : [_store, b, t, fp32, host]);
            _forward = _executor.GetType().GetMethod("Forward")!;
            _backward = _executor.GetType().GetMethod("Backward")!;
            _trainPass = _executor.GetType().GetMethod("TrainPass"); // builds before session 8 have none
            _endStep = _store.GetType().GetMethod("EndStep")!;
            var rng = new Random(1);
            _inputs = Enumerable.Range(0, b * t).Select(_ => rng.Next(vocab)).ToArray();
            _targets = Enumerable.Range(0, b * t).Select(_ => rng.Next(vocab)).ToArray();
        }

        public readonly List<float> Losses = [];

        public void Step()
        {
            if (_trainPass is not null) Losses.Add((float)_trainPass.Invoke(_executor, [_inputs, _targets, true])!);
            else
            {
                Losses.Add((float)_forward.Invoke(_executor, [_inputs, _targets])!);
                _backward.Invoke(_executor, [true]);
            }
            _endStep.Invoke(_store, [1e-4f, 1]);
        }

        public double Time(int steps)
        {
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < steps; i++) Step();
            return sw.Elapsed.TotalMilliseconds / steps;
        }
    }

    /// <summary>A build's Wafer.Gpt and its dependencies, resolved from the folder it sits in (its deps.json).</summary>
    private sealed class IsolatedBuild(string dll) : AssemblyLoadContext(dll)
    {
        private readonly AssemblyDependencyResolver _resolver = new(dll);

        protected override Assembly? Load(AssemblyName name) =>
            _resolver.ResolveAssemblyToPath(name) is { } path ? LoadFromAssemblyPath(path) : null;
    }
}

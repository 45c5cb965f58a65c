// `wafer train`: trains a GPT by weight streaming (MemoryX -> executor) on a text file or the built-in corpus, prints
// progress lines, writes checkpoint, loss.csv, loss.png, sample.txt and summary.json to --out.
using Wafer.Core;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Wafer.Cli.Reports;
using Wafer.Cli.Reports.Html;
using Wafer.Fabric;
using Wafer.Gpt;
using Wafer.Gpt.MemoryX;
using Wafer.Gpt.Model;
using Wafer.Gpt.Training;
using Wafer.Model;
using Wafer.Model.Systems;

namespace Wafer.Cli.Commands;

internal static class TrainCommand
{
    public const int DefaultSteps = 1200;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string?>("--model") { Description = "Preset (" + string.Join(", ", GptPresets.All.Select(p => p.Name)) + ") or model JSON file; default nano, or the checkpoint's when resuming" };
        var data = new Option<string?>("--data") { Description = "UTF-8 text file (default: the built-in Shakespeare corpus)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "char or gpt2 (default: char for small-vocabulary models, else gpt2)" };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => DefaultSteps };
        var batch = new Option<int>("--batch") { Description = "Sequences per micro-batch", DefaultValueFactory = _ => 12 };
        var seq = new Option<int>("--seq") { Description = "Tokens per sequence", DefaultValueFactory = _ => 64 };
        var micro = new Option<int>("--micro-batches") { Description = "Micro-batches per step (gradient accumulation)", DefaultValueFactory = _ => 1 };
        var lr = new Option<float>("--lr") { Description = "Peak learning rate (linear warmup, then cosine decay to a tenth of it)", DefaultValueFactory = _ => 1e-3f };
        var warmup = new Option<int>("--warmup") { Description = "Warmup steps", DefaultValueFactory = _ => 100 };
        var decay = new Option<int?>("--decay-steps") { Description = "Step at which the cosine decay reaches a tenth of --lr (default: --steps; give the first run's value to extend it with --resume)" };
        var seed = new Option<int>("--seed") { Description = "Seed of initialisation and batch sampling", DefaultValueFactory = _ => 1337 };
        var evalInterval = new Option<int>("--eval-interval") { Description = "Steps between evaluations and checkpoints", DefaultValueFactory = _ => 200 };
        var evalBatches = new Option<int>("--eval-batches") { Description = "Batches per loss estimate", DefaultValueFactory = _ => 20 };
        var precision = new Option<string>("--precision") { Description = "Streamed weight precision: fp32, bf16, fp16 (MemoryX keeps fp32 masters)", DefaultValueFactory = _ => "fp32" };
        var memoryx = new Option<string?>("--memoryx") { Description = "Folder to keep MemoryX's weights and optimizer state on disk (default: in memory)" };
        var outDir = new Option<string>("--out") { Description = "Output folder", DefaultValueFactory = _ => Path.Combine("runs", "train") };
        var resume = new Option<string?>("--resume") { Description = "Checkpoint to continue from" };
        var noCheckpoint = new Option<bool>("--no-checkpoint") { Description = "Do not write checkpoints" };
        var sampleTokens = new Option<int>("--sample-tokens") { Description = "Tokens to sample at the end", DefaultValueFactory = _ => 300 };
        var threads = new Option<int>("--threads") { Description = "Matmul threads (results are identical for any count)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var json = new Option<bool>("--json") { Description = "Print one JSON object on stdout at the end (progress goes to stderr)" };
        var fidelity = new Option<string>("--fidelity") { Description = "fast (host kernels, the modelled CS-2 time) or cycle (every block on the simulated wafer, wavelet by wavelet)", DefaultValueFactory = _ => "fast" };
        var wafer = new Option<string>("--wafer") { Description = "Wafer preset (tiny, cs2, cs3) or wafer JSON file for --fidelity cycle", DefaultValueFactory = _ => "cs2" };
        var region = new Option<string?>("--region") { Description = "Worker region RxC for --fidelity cycle: R rows of tokens x C columns of features (default: the fastest region that fits, by the layer model)" };
        var noReference = new Option<bool>("--no-fast-reference") { Description = "--fidelity cycle: do not train the fast executor alongside for the reference curve" };
        var swarmx = new Option<bool>("--swarmx") { Description = "Data-parallel over SwarmX under mpiexec -n N+1: rank 0 is MemoryX, ranks 1..N are systems, each taking --micro-batches / N of every step (docs/swarmx.md)" };
        var fanOut = new Option<int>("--swarmx-fan-out") { Description = "--swarmx: children per node of the broadcast and reduce tree", DefaultValueFactory = _ => 2 };
        var swarmTimeout = new Option<double>("--swarmx-timeout") { Description = "--swarmx: seconds a rank may be silent before the job ends, naming it", DefaultValueFactory = _ => 30 };
        var allowChanges = new Option<bool>("--allow-resume-changes") { Description = "With --resume: continue even where the options change the checkpoint's run (batch, sequence, schedule, seed, precision, fidelity, data); without it such a resume is refused" };
        var cmd = new Command("train", "Train a GPT by weight streaming on text; reports loss, throughput, memory and streamed bytes")
        {
            model, data, tokenizer, steps, batch, seq, micro, lr, warmup, decay, seed, evalInterval, evalBatches, precision, memoryx, outDir, resume,
            noCheckpoint, sampleTokens, threads, json, fidelity, wafer, region, noReference, allowChanges, swarmx, fanOut, swarmTimeout,
        };
        cmd.SetAction(parse =>
        {
            var asJson = parse.GetValue(json);
            var log = asJson ? stderr : stdout;
            var t = parse.GetValue(threads);
            if (t is < 1 or > TrainOptions.MaxThreads) throw new WaferInputException($"--threads must be between 1 and {TrainOptions.MaxThreads} (is {t})");
            var peak = parse.GetValue(lr);
            var level = parse.GetValue(fidelity) switch
            {
                "fast" => Fidelity.Fast, "cycle" => Fidelity.Cycle,
                var f => throw new WaferInputException($"--fidelity must be fast or cycle (is '{f}')"),
            };
            var (rows, columns) = ParseRegion(parse.GetValue(region));
            if (level == Fidelity.Fast && parse.GetValue(region) is not null) throw new WaferInputException("--region applies to --fidelity cycle");
            var cycle = new CycleOptions { Wafer = Wafer.Fabric.Config.WaferConfigJson.Resolve(parse.GetValue(wafer)!), Rows = rows, Columns = columns, Threads = t };
            var options = new TrainOptions
            {
                Threads = t,
                Model = parse.GetValue(model) is { } m ? GptConfigJson.Resolve(m) : null,
                DataPath = parse.GetValue(data),
                Tokenizer = parse.GetValue(tokenizer),
                Steps = parse.GetValue(steps),
                Batch = parse.GetValue(batch),
                SeqLen = parse.GetValue(seq),
                MicroBatches = parse.GetValue(micro),
                LearningRate = peak,
                MinLearningRate = peak / 10,
                WarmupSteps = parse.GetValue(warmup),
                DecaySteps = parse.GetValue(decay),
                Seed = parse.GetValue(seed),
                EvalInterval = parse.GetValue(evalInterval),
                EvalBatches = parse.GetValue(evalBatches),
                Precision = parse.GetValue(precision) switch
                {
                    "fp32" => StreamPrecision.Fp32, "bf16" => StreamPrecision.Bf16, "fp16" => StreamPrecision.Fp16,
                    var p => throw new WaferInputException($"--precision must be fp32, bf16 or fp16 (is '{p}')"),
                },
                MemoryXDirectory = parse.GetValue(memoryx),
                OutputDirectory = parse.GetValue(outDir)!,
                ResumePath = parse.GetValue(resume),
                WriteCheckpoints = !parse.GetValue(noCheckpoint),
                SampleTokens = parse.GetValue(sampleTokens),
                Optimizer = new OptimizerConfig(),
                Fidelity = level,
                // A cycle-level step takes minutes: a progress line every step rather than every tenth.
                LogInterval = level == Fidelity.Cycle ? 1 : 10,
                Cycle = cycle,
                FastReference = !parse.GetValue(noReference),
                AllowResumeChanges = parse.GetValue(allowChanges),
            };
            if (options.AllowResumeChanges && options.ResumePath is null) throw new WaferInputException("--allow-resume-changes applies to --resume");
            if (!parse.GetValue(swarmx) && (parse.GetResult(fanOut) is { Implicit: false } || parse.GetResult(swarmTimeout) is { Implicit: false }))
                throw new WaferInputException("--swarmx-fan-out and --swarmx-timeout apply to --swarmx");
            TrainResult result;
            if (parse.GetValue(swarmx))
            {
                var swarm = Wafer.Swarm.SwarmX.Train(options, new Wafer.Swarm.SwarmOptions { FanOut = parse.GetValue(fanOut), TimeoutSeconds = parse.GetValue(swarmTimeout) }, log, stderr);
                if (swarm.Result is null) return swarm.SystemExitCode; // a system: rank 0 writes the outputs
                result = swarm.Result;
            }
            else result = Trainer.Run(options, log);
            // The machine being modelled: the same step on one CS-2, from the analytic weight-streaming model.
            var cs2 = WaferStepModel.Estimate(result.Config, CerebrasSystem.Cs2, (long)options.Batch * options.MicroBatches, options.SeqLen);
            var summary = Summary(result, cs2, options);
            AtomicFile.WriteText(Path.Combine(options.OutputDirectory, "summary.json"), summary);
            var png = LossChart.Render(result.StepLosses, result.Evals, result.ReferenceStepLosses);
            AtomicFile.Write(Path.Combine(options.OutputDirectory, "loss.png"), s => s.Write(png));
            RunReport.Write(options.OutputDirectory);
            if (result.Sample is not null) log.WriteLine($"--- sample ---{Environment.NewLine}{result.Sample}{Environment.NewLine}--- end of sample ---");
            if (cs2.Fits)
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"simulated CS-2 (analytic model, {CerebrasSystem.Cs2.Wafer.ClockHz / 1e6:F0} MHz): {cs2.StepSeconds * 1e3:F3} ms/step, {cs2.TokensPerSecond:N0} tokens/s, utilization {cs2.Mfu:P2}, bound by {cs2.Bottleneck}; this host: {result.SecondsPerStep * 1e3:F1} ms/step"));
            if (result.Fabric is { } fab && result.FabricCyclesPerStep > 0)
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"simulated wafer ({fab.Wafer}, {fab.Rows} x {fab.Columns} + edge): {result.FabricCyclesPerStep:N0} cycles/step = {result.FabricCyclesPerStep / fab.ClockHz * 1e3:F3} ms at {fab.ClockHz / 1e6:F0} MHz, layer model {result.FabricModelCyclesPerStep:N0} ({(result.FabricCyclesPerStep - result.FabricModelCyclesPerStep) / result.FabricModelCyclesPerStep:+0.0%;-0.0%}); {fab.TotalPeSteps / Math.Max(fab.TotalHostSeconds, 1e-9):G3} PE-steps per host second"));
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"done: best val loss {result.BestValLoss:F4}, final train loss {result.FinalTrainLoss:F4}, {result.TokensPerSecond:N0} tokens/s, peak RSS {result.PeakRssBytes / 1e6:N0} MB, {result.BytesStreamedPerStep / 1e6:N1} MB streamed per step; outputs in {options.OutputDirectory}"));
            if (asJson) stdout.WriteLine(summary);
            // A diverged run has written its outputs up to the last good step; it ends as an error naming the step.
            if (result.Diverged is { } why)
                throw new WaferInputException($"training diverged: {why}; stopped there: the checkpoint in {options.OutputDirectory} is the last good one{(result.Evals.Count > 0 ? $" (step {result.Evals[^1].Step})" : "")}; lower --lr");
            return Program.ExitOk;
        });
        return cmd;
    }

    private static string Summary(TrainResult r, WaferEstimate cs2, TrainOptions o) => JsonOutput.Serialize(new
    {
        model = r.Model,
        parameters = r.Parameters,
        steps = r.Steps,
        bestValLoss = r.BestValLoss,
        finalTrainLoss = r.FinalTrainLoss,
        tokensPerSecond = r.TokensPerSecond,
        secondsPerStep = r.SecondsPerStep,
        peakRssBytes = r.PeakRssBytes,
        bytesStreamedPerStep = r.BytesStreamedPerStep,
        peakDeviceBytes = r.PeakDeviceBytes,
        memoryXBytes = r.MemoryXBytes,
        memoryX = r.MemoryX,
        tokenizer = r.Tokenizer,
        trainTokens = r.TrainTokens,
        simulatedCs2StepSeconds = cs2.Fits ? cs2.StepSeconds : (double?)null,
        simulatedCs2TokensPerSecond = cs2.TokensPerSecond,
        simulatedCs2Mfu = cs2.Mfu,
        simulatedCs2Bottleneck = cs2.Bottleneck,
        simulatedCs2Seconds = cs2.Fits ? new { compute = cs2.ComputeSeconds, fabricReduction = cs2.ReduceSeconds, weightIo = cs2.IoSeconds, memoryXExposed = cs2.MemoryXSeconds } : null,
        evals = r.Evals,
        fidelity = r.Fabric is null ? "fast" : "cycle",
        fabric = r.Fabric is not { } f ? null : new
        {
            wafer = f.Wafer,
            columns = f.Columns,
            workerRows = f.Rows,
            tokensPerRow = f.TokensPerRow,
            cyclesPerStep = r.FabricCyclesPerStep,
            secondsPerStep = r.FabricCyclesPerStep / f.ClockHz,
            modelCyclesPerStep = r.FabricModelCyclesPerStep,
            modelError = r.FabricModelCyclesPerStep > 0 ? (r.FabricCyclesPerStep - r.FabricModelCyclesPerStep) / r.FabricModelCyclesPerStep : (double?)null,
            hostStepCyclesPerPass = f.LastPassHostStepCycles,
            peStepsPerHostSecond = f.TotalPeSteps / Math.Max(f.TotalHostSeconds, 1e-9),
            hostSecondsInFabric = f.TotalHostSeconds,
            layers = f.LastTrainingPass.Select(l => new
            {
                layer = l.Layer, direction = l.Direction, cycles = l.Cycles, modelCycles = l.ModelCycles,
                modelError = l.ModelCycles > 0 ? (l.Cycles - l.ModelCycles) / (double)l.ModelCycles : (double?)null,
                utilization = l.BusyPeCycles / ((double)l.Cycles * f.PeCount),
                fractionOfPeakFlops = l.Flops / ((double)l.Cycles * f.PeCount * f.PeakFlopsPerPeCycle),
                edgeValues = l.EdgeValues,
            }),
        },
        referenceStepLosses = r.ReferenceStepLosses,
        config = new
        {
            name = r.Config.Name, layers = r.Config.Layers, channels = r.Config.Channels, heads = r.Config.Heads, ffnChannels = r.Config.FfnChannels,
            vocabSize = r.Config.VocabSize, paddedVocabSize = r.Config.PaddedVocabSize, maxSeqLen = r.Config.MaxSeqLen, positions = r.Config.Positions.ToString(),
            rotaryDims = r.Config.RotaryDims, parallelResidual = r.Config.ParallelResidual,
        },
        options = new
        {
            seed = o.Seed, batch = o.Batch, seqLen = o.SeqLen, microBatches = o.MicroBatches, learningRate = o.LearningRate, minLearningRate = o.MinLearningRate,
            warmupSteps = o.WarmupSteps, decaySteps = o.DecaySteps ?? o.Steps, evalInterval = o.EvalInterval, evalBatches = o.EvalBatches,
            precision = o.Precision.ToString().ToLowerInvariant(), data = o.DataPath ?? "built-in corpus", memoryXDirectory = o.MemoryXDirectory, resumedFrom = o.ResumePath,
            threads = o.Threads,
        },
        gitRevision = Wafer.Fabric.Stats.RunStats.GitRevision,
    });

    /// <summary>"RxC" (worker rows x feature columns) or null (chosen by the layer model).</summary>
    private static (int Rows, int Columns) ParseRegion(string? region)
    {
        if (region is null) return (0, 0);
        var parts = region.Split('x', 'X');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var r) || !int.TryParse(parts[1], out var c) || r < 1 || c < 1)
            throw new WaferInputException($"--region must be RxC with R worker rows and C columns >= 1, e.g. 96x8 (is '{region}')");
        return (r, c);
    }
}

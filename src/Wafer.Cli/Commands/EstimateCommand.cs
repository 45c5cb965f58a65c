// `wafer estimate`: what a training step of a GPT costs on one or N Cerebras systems (weight streaming) and, with --vs,
// on a GPU cluster (Megatron-style layout search). Analytic: any model size, well under a second.
using Wafer.Core;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Wafer.Cli.Reports;
using Wafer.Cli.Reports.Html;
using Wafer.Gpt.Training;
using Wafer.Fabric;
using Wafer.Gpt;
using Wafer.Model;
using Wafer.Model.Systems;

namespace Wafer.Cli.Commands;

internal static class EstimateCommand
{
    /// <summary>Batch sizes (sequences) of the Cerebras modelzoo configs the presets come from (docs/sources.md §8).</summary>
    private static long DefaultBatch(GptConfig m) => m.Name switch
    {
        "gpt3-xl" => 121, "gptj-6b" => 65, "gpt3-13b" => 60, "gpt-neox-20b" => 50, "shakespeare-char" => 64, "nano" => 12, _ => 32,
    };

    /// <summary>Bounds of what the model prices: far past any published run (GPT-3 175B: 3.2 M sequences, 3e11 tokens;
    /// the largest GPU clusters ~1e5 GPUs), and small enough that products of them stay exact in double.</summary>
    private const long MaxBatch = 1_000_000_000;
    private const int MaxSystems = 65_536, MaxGpus = 1 << 20;
    private const double MaxTokens = 1e18;

    public static Command Create(TextWriter stdout)
    {
        var model = new Option<string>("--model") { Description = "Model preset or JSON file", Required = true };
        var system = new Option<string>("--system") { Description = "System preset (cs2, cs3, a100-40gb, a100-80gb, h100) or JSON file", DefaultValueFactory = _ => "cs2" };
        var systems = new Option<int>("--systems") { Description = "Cerebras systems behind SwarmX (data parallel)", DefaultValueFactory = _ => 1 };
        var batch = new Option<long>("--batch") { Description = "Global batch in sequences (default: the modelzoo config's)" };
        var seq = new Option<int>("--seq") { Description = "Sequence length (default: min(2048, the model's maximum))" };
        var tokens = new Option<double>("--tokens") { Description = "Training tokens to price (default: 20 per parameter, the Cerebras-GPT budget)" };
        var vs = new Option<string?>("--vs") { Description = "GPU system to compare with (a100-40gb, a100-80gb, h100 or JSON file)" };
        var gpus = new Option<int>("--gpus") { Description = "GPUs for --vs or a GPU --system", DefaultValueFactory = _ => 64 };
        var layout = new Option<string?>("--layout") { Description = "Price this GPU layout instead of searching: tp,pp,dp,mb[,zero][,sp][,full|selective|none] (tensor, pipeline, data parallel, micro-batch; zero: optimizer sharded over DP; sp: sequence parallelism; what the backward recomputes, full by default)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var outDir = new Option<string?>("--out") { Description = "Also write estimate.json and report.html (the side-by-side charts) to this folder" };
        var cmd = new Command("estimate", "Estimate step time, throughput, utilization, memory plan and time to train, on CS-2s or GPUs")
        {
            model, system, systems, batch, seq, tokens, vs, gpus, layout, json, outDir,
        };
        cmd.SetAction(parse =>
        {
            var m = GptConfigJson.Resolve(parse.GetValue(model)!);
            // Given options are checked, never silently replaced by a default.
            var b = parse.GetResult(batch) is null ? DefaultBatch(m) : parse.GetValue(batch);
            if (b is < 1 or > MaxBatch) throw new WaferInputException($"--batch must be between 1 and {MaxBatch:N0} sequences (is {b})");
            var t = parse.GetResult(seq) is null ? Math.Min(2048, m.MaxSeqLen) : parse.GetValue(seq);
            if (t < 1) throw new WaferInputException($"--seq must be >= 1 (is {t})");
            if (t > m.MaxSeqLen) throw new WaferInputException($"--seq {t} exceeds model {m.Name}'s maximum sequence length {m.MaxSeqLen}");
            var n = parse.GetValue(systems);
            if (n is < 1 or > MaxSystems) throw new WaferInputException($"--systems must be between 1 and {MaxSystems:N0} (is {n})");
            var g = parse.GetValue(gpus);
            if (g is < 1 or > MaxGpus) throw new WaferInputException($"--gpus must be between 1 and {MaxGpus:N0} (is {g})");
            var budget = parse.GetResult(tokens) is null ? 20.0 * ParameterLayout.PublishedCount(m) : parse.GetValue(tokens);
            if (!(budget >= 1) || budget > MaxTokens) throw new WaferInputException($"--tokens must be a number of tokens between 1 and {MaxTokens:G3} (is {budget.ToString(CultureInfo.InvariantCulture)})");
            var (wafer, gpu) = SystemPresets.Resolve(parse.GetValue(system)!);
            var vsGpu = parse.GetValue(vs) is { } v ? SystemPresets.Resolve(v).Gpu ?? throw new WaferInputException($"--vs '{v}' is not a GPU system") : null;
            var waferEstimate = wafer is null ? null : WaferStepModel.Estimate(m, wafer, b, t, n);
            if (parse.GetValue(layout) is not null && gpu is null && vsGpu is null) throw new WaferInputException("--layout prices a GPU layout: give a GPU --system or --vs");
            var gpuLayout = parse.GetValue(layout) is { } l ? GpuLayoutText.Parse(l, m, g, b) : null;
            var gpuEstimate = gpu is not null ? GpuStepModel.Estimate(m, gpu, g, b, t, gpuLayout) : vsGpu is not null ? GpuStepModel.Estimate(m, vsGpu, g, b, t, gpuLayout) : null;
            var gpuSystem = gpu ?? vsGpu;
            var text = Json(m, wafer, waferEstimate, gpuSystem, gpuEstimate, b, t, budget);
            if (parse.GetValue(outDir) is { } dir)
            {
                OutputFolder.Create(dir);
                AtomicFile.WriteText(Path.Combine(dir, "estimate.json"), text);
                RunReport.Write(dir);
            }
            if (parse.GetValue(json))
                stdout.WriteLine(text);
            else
                EstimateTable.Write(stdout, m, wafer, waferEstimate, gpuSystem, gpuEstimate, b, t, budget);
            return Program.ExitOk;
        });
        return cmd;
    }

    private static object? PlanJson(WaferMemoryPlan? p) => p is null ? null : new
    {
        recompute = p.Recompute,
        bytesPerTokenKept = p.BytesPerTokenKept,
        bytesPerTokenWorking = p.BytesPerTokenWorking,
        sramBytesPerPeForActivations = p.SramBytesPerPeForActivations,
        tokensPerRow = p.TokensPerRow,
        sequencesPerPass = p.SequencesPerPass,
        passes = p.Passes,
        tokensPerPass = p.TokensPerPass,
        sramFractionUsed = p.SramFractionUsed,
    };

    private static object? GpuJson(GpuSystem? g, GpuEstimate? e, double budget) => e is null ? null : new
    {
        system = g!.Name,
        gpus = e.Gpus,
        fits = e.Fits,
        whyNot = e.WhyNot,
        layout = e.Layout is null ? null : new { tensorParallel = e.Layout.Tensor, pipelineParallel = e.Layout.Pipeline, dataParallel = e.Layout.Data, microBatch = e.Layout.MicroBatch, shardedOptimizer = e.Layout.ShardedOptimizer, sequenceParallel = e.Layout.SequenceParallel, recompute = e.Layout.Recompute.ToString().ToLowerInvariant(), text = e.Layout.ToString() },
        stepSeconds = Finite(e.StepSeconds),
        tokensPerSecond = e.TokensPerSecond,
        mfu = e.Mfu,
        flopsPerGpuPerSecond = e.FlopsPerGpuPerSecond,
        bottleneck = e.Bottleneck,
        memoryBytesPerGpu = e.MemoryBytesPerGpu,
        timeToTrainSeconds = e.Fits ? budget / e.TokensPerSecond : (double?)null,
    };

    private static double? Finite(double x) => double.IsFinite(x) ? x : null;

    private static string Json(GptConfig m, CerebrasSystem? wafer, WaferEstimate? w, GpuSystem? g, GpuEstimate? ge, long batch, int seq, double budget)
    {
        object result = w is null
            ? new { model = m.Name, parameters = ParameterLayout.PublishedCount(m), batch, seq, tokens = budget, fits = ge!.Fits, whyNot = ge.WhyNot, stepSeconds = Finite(ge.StepSeconds), tokensPerSecond = ge.TokensPerSecond, mfu = ge.Mfu, bottleneck = ge.Bottleneck, memoryPlan = (object?)null, gpu = GpuJson(g, ge, budget), gitRevision = Wafer.Fabric.Stats.RunStats.GitRevision }
            : new
            {
                model = m.Name,
                parameters = ParameterLayout.PublishedCount(m),
                system = wafer!.Name,
                systems = w.Systems,
                clockHz = wafer.Wafer.ClockHz,
                batch,
                seq,
                tokens = budget,
                fits = w.Fits,
                whyNot = w.WhyNot,
                stepSeconds = Finite(w.StepSeconds),
                tokensPerSecond = w.TokensPerSecond,
                mfu = w.Mfu,
                bottleneck = w.Bottleneck,
                mapping = w.Mapping,
                region = w.Columns > 0 ? new { columns = w.Columns, workerRows = w.Rows } : null,
                memoryPlan = PlanJson(w.Plan),
                seconds = new { compute = w.ComputeSeconds, fabricReduction = w.ReduceSeconds, weightIo = w.IoSeconds, memoryXExposed = w.MemoryXSeconds, swarmX = w.SwarmXSeconds },
                modelFlopsPerStep = w.ModelFlopsPerStep,
                weightBytesStreamedPerStep = w.WeightBytesStreamedPerStep,
                timeToTrainSeconds = w.Fits ? budget / w.TokensPerSecond : (double?)null,
                vs = GpuJson(g, ge, budget),
                gitRevision = Wafer.Fabric.Stats.RunStats.GitRevision,
            };
        return Reports.JsonOutput.Serialize(result);
    }
}

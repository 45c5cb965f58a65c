// The training loop, top to bottom: data and tokenizer, MemoryX and the streaming executor, then for each step the
// schedule's learning rate, micro-batches forward and backward (gradients streamed to MemoryX), the optimizer step in
// MemoryX; evaluation, checkpoint and loss history every EvalInterval steps; a sample at the end.
using Wafer.Core;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Wafer.Gpt.Data;
using Wafer.Gpt.MemoryX;
using Wafer.Fabric;
using Wafer.Gpt.Model;

namespace Wafer.Gpt.Training;

public static class Trainer
{
    public const string CheckpointFile = "checkpoint.safetensors";

    public static TrainResult Run(TrainOptions o, TextWriter log) => Run(o, log, remote: null);

    /// <summary>Run, with the passes on remote devices where remote is given (SwarmX's rank 0: it gets MemoryX and the
    /// fitted model, and returns the runner that drives the systems); this process then holds MemoryX only.</summary>
    public static TrainResult Run(TrainOptions o, TextWriter log, Func<WeightStore, GptConfig, IPassRunner>? remote)
    {
        var errors = o.Validate();
        if (errors.Count > 0) throw new WaferInputException(string.Join("; ", errors));
        EnsureWritable(o.OutputDirectory, "--out");
        if (o.MemoryXDirectory is { } mx) EnsureWritable(mx, "--memoryx");
        var resume = o.ResumePath is null ? null : ResumeState.Read(o.ResumePath);

        // Data and tokenizer.
        var source = o.DataPath ?? "the built-in corpus (Shakespeare's Coriolanus, public domain)";
        var text = o.DataPath is null ? TextCorpus.DefaultText() : TextCorpus.ReadText(o.DataPath);
        var requested = o.Model ?? resume?.Model ?? GptPresets.Nano;
        var tokenizer = resume?.Tokenizer
            ?? ((o.Tokenizer ?? (requested.VocabSize < 256 ? "char" : "gpt2")) == "char" ? CharTokenizer.FromText(text) : new Gpt2BpeTokenizer());
        if (resume is not null && o.Tokenizer is { } asked && asked != (tokenizer is CharTokenizer ? "char" : "gpt2"))
            throw new WaferInputException($"checkpoint {o.ResumePath} was trained with the {(tokenizer is CharTokenizer ? "char" : "gpt2")} tokenizer, not --tokenizer {asked}");
        var cfg = FitVocabulary(requested, tokenizer);
        if (resume is not null && GptConfigJson.Serialize(cfg) != GptConfigJson.Serialize(resume.Model))
            throw new WaferInputException($"checkpoint {o.ResumePath} holds model {resume.Model.Name}, which does not match the requested {cfg.Name} ({cfg.Layers} layers, {cfg.Channels} channels, vocabulary {cfg.VocabSize})");
        if (o.SeqLen > cfg.MaxSeqLen) throw new WaferInputException($"--seq {o.SeqLen} exceeds model {cfg.Name}'s maximum sequence length {cfg.MaxSeqLen}");
        var settings = Settings(o, source, text);
        if (resume is not null) CheckSettings(o, resume, settings);
        var corpus = TextCorpus.Create(source, text, tokenizer, o.SeqLen);

        // Admission: a cycle-level run's region first, then this machine's memory (and disk) for MemoryX and the
        // device's buffers; nothing is allocated for a run that is refused.
        var cycle = o.Cycle with { Fp16 = o.Precision == StreamPrecision.Fp16 };
        if (o.Fidelity == Fidelity.Cycle) CycleExecutor.Admit(cfg, o.Batch, o.SeqLen, cycle);
        var layout = new ParameterLayout(cfg);
        var host = new HostSchedule { Threads = o.Threads };
        Admit(o, cfg, layout);
        AtomicFile.RemoveStale(o.OutputDirectory);
        ISegmentStorage storage = o.MemoryXDirectory is null ? new InMemoryStorage(layout) : new FileStorage(layout, o.MemoryXDirectory);
        using var store = new WeightStore(layout, storage, o.Optimizer, o.Threads);
        store.Initialise(o.Seed);
        var startStep = 0;
        var sampler = new BatchSampler(corpus.Train, o.Batch, o.SeqLen, (ulong)o.Seed * 0x2545F4914F6CDD1DUL);
        var stepLosses = new List<double>();
        var referenceLosses = new List<double>();
        var evals = new List<EvalPoint>();
        if (resume is not null)
        {
            startStep = resume.Step;
            if (startStep > o.Steps) throw new WaferInputException($"checkpoint {o.ResumePath} is at step {startStep}, past --steps {o.Steps}");
            Checkpoint.Load(o.ResumePath!, store, resume.OptimizerStep);
            referenceLosses = resume.ReferenceLosses;
            sampler = new BatchSampler(corpus.Train, o.Batch, o.SeqLen, resume.SamplerState);
            stepLosses = resume.StepLosses;
            evals = resume.Evals;
        }
        var executor = remote is not null ? remote(store, cfg) : new LocalPasses(o.Fidelity == Fidelity.Cycle
            ? new CycleExecutor(store, o.Batch, o.SeqLen, cycle)
            : new GptExecutor(store, o.Batch, o.SeqLen, o.Precision, host));
        // The fast reference of a cycle run: its own MemoryX, from the same start, fed the same batches.
        using var referenceStore = o.Fidelity == Fidelity.Cycle && o.FastReference ? new WeightStore(layout, new InMemoryStorage(layout), o.Optimizer, o.Threads) : null;
        GptExecutor? reference = null;
        if (referenceStore is not null)
        {
            referenceStore.Initialise(o.Seed);
            if (resume is not null) Checkpoint.Load(o.ResumePath!, referenceStore, resume.OptimizerStep);
            reference = new GptExecutor(referenceStore, o.Batch, o.SeqLen, o.Precision, host);
        }
        Directory.CreateDirectory(o.OutputDirectory);
        var decay = DecaySteps(o);
        log.WriteLine($"model {cfg.Name}: {layout.Count:N0} parameters ({ParameterLayout.PublishedCount(cfg):N0} as published), {cfg.Layers} layers, {cfg.Channels} channels, {cfg.Heads} heads");
        log.WriteLine($"data {source}: {corpus.Train.Length:N0} train / {corpus.Validation.Length:N0} val tokens, tokenizer {(tokenizer is CharTokenizer ? $"characters ({tokenizer.VocabSize})" : "GPT-2 BPE")}");
        log.WriteLine($"MemoryX {(o.MemoryXDirectory is null ? "in memory" : "on disk at " + o.MemoryXDirectory)}: {MemoryXBytes(o, layout) / 1e6:N1} MB of weights, AdamW moments and gradients{(o.MicroBatches > 1 ? " (exact sums of the micro-batches' terms)" : "")}; device holds {executor.DeviceBytes / 1e6:N1} MB");
        if (startStep > 0) log.WriteLine($"resumed from {o.ResumePath} at step {startStep}");
        if (executor.Fabric is { } fab)
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"fidelity cycle: wafer {fab.Wafer}, region {fab.Rows} x {fab.Columns} worker PEs + the edge row (n {fab.TokensPerRow} tokens and k {cfg.Channels / fab.Columns} features per PE), SRAM {executor.DeviceBytes / (double)(fab.Rows * fab.Columns) / 1024:F1} KiB of a PE's {o.Cycle.Wafer.UsableSramBytesPerPe / 1024.0:F1}{(reference is null ? "" : "; the fast executor trains alongside for the reference curve")}"));
        double fabricCycles = 0, fabricModelCycles = 0;
        var fabricSteps = 0;

        var trainTime = new Stopwatch();
        var trainedSteps = 0;
        long streamedInSteps = 0;
        string? diverged = null;
        for (var step = startStep; ; step++)
        {
            var resumedHere = resume is not null && step == startStep;
            if ((step % o.EvalInterval == 0 || step == o.Steps) && !resumedHere)
            {
                var point = new EvalPoint(step, Estimate(executor, corpus.Train, o, step, 1), Estimate(executor, corpus.Validation, o, step, 2));
                if (!double.IsFinite(point.TrainLoss) || !double.IsFinite(point.ValLoss))
                {
                    diverged = $"the evaluation at step {step} gave train loss {point.TrainLoss}, val loss {point.ValLoss}";
                    break;
                }
                evals.Add(point);
                log.WriteLine($"eval step {step}: train loss {point.TrainLoss:F4}, val loss {point.ValLoss:F4}");
                if (o.WriteCheckpoints)
                    Checkpoint.Save(Path.Combine(o.OutputDirectory, CheckpointFile), store, Metadata(cfg, tokenizer, step, sampler, stepLosses, evals, referenceLosses, settings));
            }
            if (step >= o.Steps) break;

            var lr = LrSchedule.At(step, o.LearningRate, o.MinLearningRate, o.WarmupSteps, decay);
            var streamedBefore = executor.BytesStreamed;
            trainTime.Start();
            double loss = 0, referenceLoss = 0;
            long stepCycles = 0, stepModel = 0;
            var batches = new TokenBatch[o.MicroBatches];
            for (var pass = 0; pass < o.MicroBatches; pass++)
            {
                var (x, y) = sampler.Next();
                batches[pass] = new TokenBatch(x, y);
            }
            foreach (var r in executor.Train(batches))
            {
                loss += r.Loss;
                stepCycles += r.Cycles;
                stepModel += r.ModelCycles;
            }
            if (reference is not null)
                for (var pass = 0; pass < o.MicroBatches; pass++)
                    referenceLoss += reference.TrainPass(batches[pass].Inputs, batches[pass].Targets, lastPassOfStep: pass == o.MicroBatches - 1);
            store.EndStep(lr, o.MicroBatches);
            referenceStore?.EndStep(lr, o.MicroBatches);
            trainTime.Stop();
            loss /= o.MicroBatches;
            // A loss or gradient that is not finite has made (or will make) the weights garbage: stop here, before
            // anything is checkpointed, so the last checkpoint stays the last good state.
            if (!double.IsFinite(loss) || !double.IsFinite(store.LastGradNorm))
            {
                diverged = $"loss {loss.ToString(CultureInfo.InvariantCulture)}, gradient norm {store.LastGradNorm.ToString(CultureInfo.InvariantCulture)} at step {step + 1} (learning rate {lr.ToString("G3", CultureInfo.InvariantCulture)})";
                break;
            }
            if (reference is not null) referenceLosses.Add(referenceLoss / o.MicroBatches);
            if (executor.Fabric is not null) { fabricCycles += stepCycles; fabricModelCycles += stepModel; fabricSteps++; }
            streamedInSteps += executor.BytesStreamed - streamedBefore;
            trainedSteps++;
            stepLosses.Add(loss);
            if ((step + 1) % o.LogInterval == 0 || step + 1 == o.Steps)
            {
                var perStep = trainTime.Elapsed.TotalSeconds / trainedSteps;
                var eta = TimeSpan.FromSeconds(perStep * (o.Steps - step - 1));
                var wafer = executor.Fabric is { } fa
                    ? string.Create(CultureInfo.InvariantCulture, $" | wafer {stepCycles:N0} cycles = {stepCycles / fa.ClockHz * 1e3:F3} ms (model {stepModel:N0}, {(stepCycles - stepModel) / (double)Math.Max(1, stepModel):+0.0%;-0.0%}){(reference is null ? "" : $", fast {referenceLosses[^1]:F4}")}")
                    : "";
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"step {step + 1}/{o.Steps} loss {loss:F4} lr {lr:E2} grad-norm {store.LastGradNorm:F3} | {TokensPerStep(o) / perStep:N0} tok/s, {perStep * 1000:F1} ms/step | ETA {(int)eta.TotalHours}:{eta:mm\\:ss}{wafer}"));
            }
        }
        WriteLossCsv(Path.Combine(o.OutputDirectory, "loss.csv"), stepLosses, evals, referenceLosses);

        string? sample = null;
        if (o.SampleTokens > 0 && diverged is null)
        {
            // On the fast executor at either fidelity: the same weights, and one forward per token on the simulated wafer
            // would take longer than the training run. The prompt is a newline where the vocabulary has one.
            var sampleExecutor = new GptExecutor(store, 1, Math.Min(o.SeqLen, cfg.MaxSeqLen), o.Precision, host);
            var prompt = tokenizer is CharTokenizer chars ? chars.EncodeKnown("\n") : tokenizer.Encode("\n");
            var ids = new Sampler(sampleExecutor, (ulong)o.Seed).Generate(prompt, o.SampleTokens, 0.8f, 200);
            sample = tokenizer.Decode(ids);
            AtomicFile.WriteText(Path.Combine(o.OutputDirectory, "sample.txt"), sample);
        }
        return new TrainResult
        {
            Model = cfg.Name,
            Config = cfg,
            Parameters = layout.Count,
            Steps = o.Steps,
            BestValLoss = evals.Count == 0 ? double.NaN : evals.Min(e => e.ValLoss),
            FinalTrainLoss = stepLosses.Count == 0 ? double.NaN : stepLosses[^1],
            TokensPerSecond = trainedSteps == 0 ? 0 : TokensPerStep(o) * trainedSteps / trainTime.Elapsed.TotalSeconds,
            SecondsPerStep = trainedSteps == 0 ? 0 : trainTime.Elapsed.TotalSeconds / trainedSteps,
            PeakRssBytes = PeakRss(),
            BytesStreamedPerStep = trainedSteps == 0 ? 0 : streamedInSteps / trainedSteps,
            PeakDeviceBytes = executor.DeviceBytes,
            MemoryXBytes = MemoryXBytes(o, layout),
            MemoryX = o.MemoryXDirectory is null ? "memory" : "disk",
            Tokenizer = tokenizer is CharTokenizer ? "char" : "gpt2",
            TrainTokens = corpus.Train.Length,
            OutputDirectory = o.OutputDirectory,
            StepLosses = stepLosses,
            Evals = evals,
            Sample = sample,
            ReferenceStepLosses = referenceLosses,
            Fabric = executor.Fabric,
            FabricCyclesPerStep = fabricSteps == 0 ? 0 : fabricCycles / fabricSteps,
            FabricModelCyclesPerStep = fabricSteps == 0 ? 0 : fabricModelCycles / fabricSteps,
            Diverged = diverged,
        };
    }

    /// <summary>The folder exists (created if need be) and takes a file, before any work: a bad --out fails now, not
    /// after the training.</summary>
    private static void EnsureWritable(string dir, string option)
    {
        try
        {
            Directory.CreateDirectory(dir);
            var probe = Path.Combine(dir, $".probe.{Environment.ProcessId}.tmp");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new WaferInputException($"{option} {dir}: cannot write there ({e.Message})");
        }
    }

    private static int DecaySteps(TrainOptions o) => o.DecaySteps ?? o.Steps;

    /// <summary>The options that change what a run computes, as the checkpoint stores them.</summary>
    private static Dictionary<string, string> Settings(TrainOptions o, string source, string text)
    {
        string F(double x) => x.ToString("R", CultureInfo.InvariantCulture);
        // The data by its content (FNV-1a over the UTF-16 text) and length: another file of the same name differs.
        var hash = 14695981039346656037UL;
        foreach (var ch in text) hash = (hash ^ ch) * 1099511628211UL;
        return new()
        {
            ["batch"] = o.Batch.ToString(CultureInfo.InvariantCulture),
            ["seqLen"] = o.SeqLen.ToString(CultureInfo.InvariantCulture),
            ["microBatches"] = o.MicroBatches.ToString(CultureInfo.InvariantCulture),
            ["learningRate"] = F(o.LearningRate),
            ["minLearningRate"] = F(o.MinLearningRate),
            ["warmupSteps"] = o.WarmupSteps.ToString(CultureInfo.InvariantCulture),
            ["decaySteps"] = DecaySteps(o).ToString(CultureInfo.InvariantCulture),
            ["seed"] = o.Seed.ToString(CultureInfo.InvariantCulture),
            ["precision"] = o.Precision.ToString().ToLowerInvariant(),
            ["fidelity"] = o.Fidelity.ToString().ToLowerInvariant(),
            ["data"] = $"{text.Length} characters, fnv1a {hash:x16}",
        };
    }

    /// <summary>Refuses a resume whose options would change the checkpoint's run (unless AllowResumeChanges), naming
    /// every change; a checkpoint without a setting (an older one) is not checked on it.</summary>
    private static void CheckSettings(TrainOptions o, ResumeState resume, Dictionary<string, string> now)
    {
        if (o.AllowResumeChanges) return;
        var changes = ResumeState.SettingKeys.Where(k => resume.Settings.TryGetValue(k, out var was) && now[k] != was)
            .Select(k => $"{k} {resume.Settings[k]} -> {now[k]}").ToList();
        if (changes.Count > 0)
            throw new WaferInputException($"resuming {o.ResumePath} would change its run: {string.Join(", ", changes)}; give the checkpoint's values (--decay-steps N keeps its schedule when --steps grows), or --allow-resume-changes to continue with the new ones");
    }

    /// <summary>Refuses a run this machine cannot hold, before anything is allocated: MemoryX's state (16 bytes per
    /// parameter in memory, or on disk), the device's buffers, the corpus's tokens, and a cycle run's fast reference.</summary>
    private static void Admit(TrainOptions o, GptConfig cfg, ParameterLayout layout)
    {
        if (layout.LargestSegment > Array.MaxLength)
            throw new WaferInputException($"model {cfg.Name}: its largest segment holds {layout.LargestSegment:N0} parameters; the executor streams a segment into one buffer of at most {Array.MaxLength:N0} values");
        var (device, longest) = GptExecutor.Plan(layout, o.Batch, o.SeqLen, o.Precision);
        if (longest > Array.MaxLength)
            throw new WaferInputException($"model {cfg.Name} with batch {o.Batch} x {o.SeqLen}: one activation tensor holds {longest:N0} values, more than one buffer holds ({Array.MaxLength:N0}); use a smaller --batch or --seq");
        var memoryX = (double)MemoryXBytes(o, layout);
        var inMemory = o.MemoryXDirectory is null ? memoryX : 0;
        var reference = o.Fidelity == Fidelity.Cycle && o.FastReference ? memoryX + device : 0;
        var need = inMemory + device + reference;
        var parts = $"MemoryX {(o.MemoryXDirectory is null ? HostMemory.Gb(memoryX) + " in memory" : "on disk")}, device buffers {HostMemory.Gb(device)}{(reference > 0 ? $", the fast reference {HostMemory.Gb(reference)}" : "")}";
        var hint = o.MemoryXDirectory is null && memoryX > device ? $"--memoryx DIR keeps MemoryX's {HostMemory.Gb(memoryX)} on disk" : "use a smaller --batch or --seq, or a smaller model";
        HostMemory.Require(need, $"training {cfg.Name} ({layout.Count:N0} parameters) with batch {o.Batch} x {o.SeqLen}", parts, hint);
        if (o.MemoryXDirectory is { } dir)
        {
            var full = Path.GetFullPath(dir);
            var drive = new DriveInfo(Path.GetPathRoot(full)!);
            var existing = Directory.Exists(full) ? Directory.EnumerateFiles(full).Sum(f => new FileInfo(f).Length) : 0;
            if (drive.AvailableFreeSpace + existing < memoryX)
                throw new WaferInputException($"--memoryx {dir}: MemoryX's state needs {HostMemory.Gb(memoryX)} of disk, the drive has {HostMemory.Gb(drive.AvailableFreeSpace)} free");
        }
    }

    /// <summary>MemoryX's state: weights, two moments and the gradient (16 bytes a parameter), and with micro-batches
    /// (several gradient terms a step) 16 more for the exact sums.</summary>
    public static long MemoryXBytes(TrainOptions o, ParameterLayout layout) => (o.MicroBatches > 1 ? 32 : 16) * layout.Count;

    private static long TokensPerStep(TrainOptions o) => (long)o.Batch * o.SeqLen * o.MicroBatches;

    /// <summary>A character vocabulary sets the model's; GPT-2 BPE needs 50,257 rows (padded to 50,304 as llm.c does).</summary>
    private static GptConfig FitVocabulary(GptConfig cfg, ITokenizer tokenizer)
    {
        if (tokenizer is CharTokenizer) return cfg with { VocabSize = tokenizer.VocabSize, PaddedVocabSize = tokenizer.VocabSize };
        return cfg.VocabSize >= tokenizer.VocabSize ? cfg : cfg with { VocabSize = tokenizer.VocabSize, PaddedVocabSize = Math.Max(cfg.PaddedVocabSize, 50304) };
    }

    /// <summary>Mean loss over EvalBatches random batches of a split, drawn from a stream seeded by (seed, step, split)
    /// so that the estimate does not disturb the training sampler and repeats exactly on resume.</summary>
    private static double Estimate(IPassRunner executor, int[] tokens, TrainOptions o, int step, int split)
    {
        var sampler = new BatchSampler(tokens, o.Batch, o.SeqLen, (ulong)o.Seed * 0x9E3779B97F4A7C15UL ^ ((ulong)step << 8) ^ (ulong)split);
        var batches = new TokenBatch[o.EvalBatches];
        for (var i = 0; i < o.EvalBatches; i++)
        {
            var (x, y) = sampler.Next();
            batches[i] = new TokenBatch(x, y);
        }
        double sum = 0;
        foreach (var loss in executor.Forward(batches)) sum += loss;
        return sum / o.EvalBatches;
    }

    private static Dictionary<string, string> Metadata(GptConfig cfg, ITokenizer tokenizer, int step, BatchSampler sampler,
        List<double> stepLosses, List<EvalPoint> evals, List<double> referenceLosses, Dictionary<string, string> settings)
    {
        var meta = new Dictionary<string, string>(settings)
        {
            ["referenceStepLosses"] = JsonSerializer.Serialize(referenceLosses),
            ["model"] = GptConfigJson.Serialize(cfg),
            ["modelName"] = cfg.Name,
            ["tokenizer"] = tokenizer.Describe(),
            ["step"] = step.ToString(CultureInfo.InvariantCulture),
            ["samplerState"] = sampler.State.ToString(CultureInfo.InvariantCulture),
            ["stepLosses"] = JsonSerializer.Serialize(stepLosses),
            ["evals"] = JsonSerializer.Serialize(evals),
        };
        return meta;
    }

    private static void WriteLossCsv(string path, List<double> stepLosses, List<EvalPoint> evals, List<double> referenceLosses)
    {
        var sb = new System.Text.StringBuilder("kind,step,train_loss,val_loss\n");
        for (var i = 0; i < stepLosses.Count; i++) sb.Append(CultureInfo.InvariantCulture, $"step,{i + 1},{stepLosses[i]:R},\n");
        for (var i = 0; i < referenceLosses.Count; i++) sb.Append(CultureInfo.InvariantCulture, $"fast_reference_step,{i + 1},{referenceLosses[i]:R},\n");
        foreach (var e in evals) sb.Append(CultureInfo.InvariantCulture, $"eval,{e.Step},{e.TrainLoss:R},{e.ValLoss:R}\n");
        AtomicFile.WriteText(path, sb.ToString());
    }

    /// <summary>Peak resident set (VmHWM) of this process in bytes.</summary>
    public static long PeakRss()
    {
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.PeakWorkingSet64;
    }
}

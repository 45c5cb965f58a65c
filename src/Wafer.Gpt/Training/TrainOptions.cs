// Everything a training run needs; defaults are nanoGPT's CPU recipe for tiny Shakespeare (block 64, batch 12,
// lr 1e-3 with 100 warmup steps and cosine decay to 1e-4, AdamW betas 0.9/0.99, weight decay 0.1, clip 1.0, seed 1337).
using Wafer.Core;
using Wafer.Gpt.MemoryX;
using Wafer.Gpt.Model;

namespace Wafer.Gpt.Training;

/// <summary>Where the layer schedule runs: host kernels (fast) or the layer program on the simulated wafer (cycle).</summary>
public enum Fidelity { Fast, Cycle }

public sealed record TrainOptions
{
    /// <summary>fast (host kernels) or cycle (the simulated wafer; Cycle sets its wafer and region).</summary>
    public Fidelity Fidelity { get; init; } = Fidelity.Fast;
    public CycleOptions Cycle { get; init; } = new();
    /// <summary>Cycle fidelity: also train the fast executor on the same batches from the same start, for the
    /// reference curve in loss.csv and loss.png (on by default; the fast run costs little beside the cycle one).</summary>
    public bool FastReference { get; init; } = true;
    /// <summary>The model; null = nano, or the checkpoint's model when resuming.</summary>
    public GptConfig? Model { get; init; }
    /// <summary>Write checkpoint.safetensors at every evaluation (on by default).</summary>
    public bool WriteCheckpoints { get; init; } = true;
    /// <summary>UTF-8 text file; null trains on the corpus shipped in the binary.</summary>
    public string? DataPath { get; init; }
    /// <summary>"char", "gpt2", or null: characters when the model's vocabulary is small (< 256), else GPT-2 BPE.</summary>
    public string? Tokenizer { get; init; }
    /// <summary>Optimizer steps, e.g. 2000.</summary>
    public int Steps { get; init; } = 2000;
    /// <summary>Sequences per micro-batch, e.g. 12.</summary>
    public int Batch { get; init; } = 12;
    /// <summary>Tokens per sequence, e.g. 64 (at most the model's MaxSeqLen).</summary>
    public int SeqLen { get; init; } = 64;
    /// <summary>Micro-batches whose gradients are summed per optimizer step (gradient accumulation), e.g. 1.</summary>
    public int MicroBatches { get; init; } = 1;
    public float LearningRate { get; init; } = 1e-3f;
    public float MinLearningRate { get; init; } = 1e-4f;
    public int WarmupSteps { get; init; } = 100;
    /// <summary>Steps over which the cosine decays; null = Steps.</summary>
    public int? DecaySteps { get; init; }
    public int Seed { get; init; } = 1337;
    /// <summary>Steps between evaluations (and checkpoints), e.g. 250; the last step is always evaluated.</summary>
    public int EvalInterval { get; init; } = 250;
    /// <summary>Batches averaged per loss estimate of each split, e.g. 20.</summary>
    public int EvalBatches { get; init; } = 20;
    /// <summary>Steps between progress lines, e.g. 10.</summary>
    public int LogInterval { get; init; } = 10;
    public OptimizerConfig Optimizer { get; init; } = new();
    public StreamPrecision Precision { get; init; } = StreamPrecision.Fp32;
    /// <summary>Folder for MemoryX's state files; null keeps MemoryX in memory.</summary>
    public string? MemoryXDirectory { get; init; }
    /// <summary>Output folder: checkpoint.safetensors, loss.csv, loss.png, sample.txt, summary.json.</summary>
    public string OutputDirectory { get; init; } = "runs/train";
    /// <summary>Checkpoint to continue from; null starts fresh.</summary>
    public string? ResumePath { get; init; }
    /// <summary>Characters or tokens sampled at the end, e.g. 300; 0 skips the sample.</summary>
    public int SampleTokens { get; init; } = 300;
    /// <summary>Resume even where the options change what the checkpoint's run computed (batch, schedule, seed,
    /// precision, fidelity, data); off: such a resume is refused, naming each change.</summary>
    public bool AllowResumeChanges { get; init; }
    /// <summary>Batches per loss estimate at most: 10,000 batches already put a mean's standard error far below any
    /// difference a run shows; more only makes each evaluation run for hours.</summary>
    public const int MaxEvalBatches = 10_000;
    /// <summary>Micro-batches per step at most: MemoryX's exact sum takes ExactSum.MaxTerms terms, one a pass.</summary>
    public const int MaxMicroBatches = ExactSum.MaxTerms;
    /// <summary>Host threads for the products, layers and optimizer (the fast executor and MemoryX): 1 .. MaxThreads.
    /// Results do not depend on it.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Matmul threads: 1 .. MaxThreads.</summary>
    public const int MaxThreads = 1024;

    public IReadOnlyList<string> Validate()
    {
        var e = new List<string>();
        if (Threads is < 1 or > MaxThreads) e.Add($"--threads must be between 1 and {MaxThreads} (is {Threads})");
        if (Steps < 0) e.Add($"--steps must be >= 0 (is {Steps})");
        if (string.IsNullOrWhiteSpace(OutputDirectory)) e.Add("--out must name a folder (is empty)");
        else if (OutputDirectory.IndexOfAny(Path.GetInvalidPathChars()) >= 0) e.Add($"--out '{OutputDirectory}' holds characters a path cannot");
        if (DecaySteps is < 0) e.Add($"--decay-steps must be >= 0 (is {DecaySteps})");
        if (Batch < 1) e.Add($"--batch must be >= 1 (is {Batch})");
        if (SeqLen < 1) e.Add($"--seq must be >= 1 (is {SeqLen})");
        if (MicroBatches is < 1 or > MaxMicroBatches) e.Add($"--micro-batches must be between 1 and {MaxMicroBatches:N0} (is {MicroBatches})");
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate)) e.Add($"--lr must be a positive number (is {LearningRate})");
        if (LearningRate > 0 && (!(MinLearningRate >= 0) || MinLearningRate > LearningRate)) e.Add($"the minimum learning rate must be in [0, --lr] (is {MinLearningRate})");
        if (WarmupSteps < 0) e.Add($"--warmup must be >= 0 (is {WarmupSteps})");
        if (EvalInterval < 1) e.Add($"--eval-interval must be >= 1 (is {EvalInterval})");
        if (EvalBatches is < 1 or > MaxEvalBatches) e.Add($"--eval-batches must be between 1 and {MaxEvalBatches:N0} (is {EvalBatches})");
        if (LogInterval < 1) e.Add($"log interval must be >= 1 (is {LogInterval})");
        if (Tokenizer is not null and not "char" and not "gpt2") e.Add($"--tokenizer must be 'char' or 'gpt2' (is '{Tokenizer}')");
        if (SampleTokens < 0) e.Add($"sample tokens must be >= 0 (is {SampleTokens})");
        if (Fidelity == Fidelity.Cycle && Precision == StreamPrecision.Bf16) e.Add("--fidelity cycle runs fp32 or fp16 on the fabric (a WSE-2 PE has no bf16 arithmetic); --precision bf16 is for the fast level");
        return e;
    }
}

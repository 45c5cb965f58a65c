// What a training run reports: the final JSON of `wafer train --json` and the loss history behind loss.csv / loss.png.
using Wafer.Core;

namespace Wafer.Gpt.Training;

public sealed record EvalPoint(int Step, double TrainLoss, double ValLoss);

public sealed record TrainResult
{
    public required string Model { get; init; }
    /// <summary>The model as trained (vocabulary fitted to the tokenizer).</summary>
    public required GptConfig Config { get; init; }
    public required long Parameters { get; init; }
    public required int Steps { get; init; }
    public required double BestValLoss { get; init; }
    public required double FinalTrainLoss { get; init; }
    public required double TokensPerSecond { get; init; }
    public required double SecondsPerStep { get; init; }
    public required long PeakRssBytes { get; init; }
    public required long BytesStreamedPerStep { get; init; }
    public required long PeakDeviceBytes { get; init; }
    public required long MemoryXBytes { get; init; }
    public required string MemoryX { get; init; }
    public required string Tokenizer { get; init; }
    public required long TrainTokens { get; init; }
    public required string OutputDirectory { get; init; }
    public required IReadOnlyList<double> StepLosses { get; init; }
    public required IReadOnlyList<EvalPoint> Evals { get; init; }
    public string? Sample { get; init; }
    /// <summary>Cycle fidelity: the fast executor's step losses on the same batches (the reference curve); else empty.</summary>
    public IReadOnlyList<double> ReferenceStepLosses { get; init; } = [];
    /// <summary>Cycle fidelity: the simulated wafer's account (last pass's layers, totals); else null.</summary>
    public Model.FabricAccount? Fabric { get; init; }
    /// <summary>Cycle fidelity: simulated cycles per step (every pass of the step, host steps charged) and the layer
    /// model's prediction of the same.</summary>
    public double FabricCyclesPerStep { get; init; }
    public double FabricModelCyclesPerStep { get; init; }
    /// <summary>Null when every step was finite; else what diverged and where ("loss NaN at step 3"): the run stopped
    /// there, its checkpoint is the last good one, and its outputs hold the steps before.</summary>
    public string? Diverged { get; init; }
}

// The segment contract between the trainer and a device (docs/design.md §2.6): for each segment, its weights arrive from
// MemoryX, the device runs its forward and backward, and its gradients go back to MemoryX's optimizer. Two devices
// serve it: GptExecutor (the "fast" level: host kernels) and CycleExecutor (the "cycle" level: the layer program on
// the simulated wafer).
namespace Wafer.Gpt.Model;

/// <summary>Contract: Forward and TrainPass take B x T tokens (B = Batch, T = SeqLen), fetch every segment they use from
/// the executor's WeightStore and return the mean cross-entropy over the tokens (NaN without targets); TrainPass also
/// sends each segment's gradient of that mean loss to the store once per call (lastPassOfStep marks the step's last
/// micro-batch). Results depend only on the weights and tokens, never on thread count or schedule.</summary>
public interface IGptExecutor
{
    int Batch { get; }
    int SeqLen { get; }
    float Forward(int[] inputs, int[]? targets);
    float TrainPass(int[] inputs, int[] targets, bool lastPassOfStep);
    /// <summary>Probabilities over the real vocabulary at position (b, t) of the last forward pass.</summary>
    ReadOnlySpan<float> Probabilities(int b, int t);
    /// <summary>Weight bytes streamed in and gradient bytes streamed out since construction.</summary>
    long BytesStreamed { get; }
    /// <summary>What the device holds at its peak (host bytes for the fast executor; the wafer's SRAM in use for the cycle one).</summary>
    long DeviceBytes { get; }
    /// <summary>The simulated machine's account of the passes run so far (null where nothing is simulated).</summary>
    FabricAccount? Fabric { get; }
}

/// <summary>Per layer and direction, what the simulated wafer did: cycles, busy PE-cycles, flops and values through the
/// edge (the MemoryX link), with the host steps' modelled cycles; totals since the executor was built.</summary>
public sealed record FabricLayerTiming(int Layer, string Direction, long Cycles, long BusyPeCycles, long Flops, long EdgeValues, long ModelCycles);

public sealed class FabricAccount
{
    public required string Wafer { get; init; }
    public required int Columns { get; init; }
    public required int Rows { get; init; }
    public required int TokensPerRow { get; init; }
    public required double ClockHz { get; init; }
    public required int PeakFlopsPerPeCycle { get; init; }
    /// <summary>Layer timings of the last pass (forward and backward; the backward includes the recomputed forward).</summary>
    public List<FabricLayerTiming> LastPass { get; } = [];
    /// <summary>The same for the last training pass (evaluations run forward passes after it).</summary>
    public List<FabricLayerTiming> LastTrainingPass { get; } = [];
    /// <summary>Cycles of the last pass: the layers on the fabric and the host steps as modelled.</summary>
    public long LastPassCycles { get; set; }
    public long LastPassModelCycles { get; set; }
    public long LastPassHostStepCycles { get; set; }
    public long TotalCycles { get; set; }
    public long TotalPeSteps { get; set; }
    public double TotalHostSeconds { get; set; }
    public int Passes { get; set; }
    public long PeCount => (long)Columns * (Rows + 1);
}

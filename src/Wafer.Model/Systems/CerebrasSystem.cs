// A Cerebras system for the estimate: the wafer (program rectangle, SRAM, clock, SIMD widths, latencies: WaferConfig)
// plus its I/O to MemoryX and the MemoryX/SwarmX appliances. Sources in docs/sources.md §1.1 and §5.
using Wafer.Fabric.Config;

namespace Wafer.Model.Systems;

/// <summary>How the step model prices a layer: LayerProgram, the transformer layer program that `wafer train --fidelity
/// cycle` runs on the simulator, every phase by its calibrated model (LayerProgramStepModel; fp16 products when the system
/// streams 2-byte values) — the default; OverlappedFp16, a first-principles production mapping (fp16 at SIMD width, the
/// reduction of output o overlapped with the compute of o + 1) that no simulated program runs; SimulatedFp32, the wsmm
/// product kernel's closed form with first principles for the rest.</summary>
public enum MatmulKernel { OverlappedFp16, SimulatedFp32, LayerProgram }

public sealed record CerebrasSystem
{
    public string Name { get; init; } = "cs2";
    /// <summary>The wafer as the simulator sees it (its program rectangle is what a kernel gets), e.g. WaferPresets.Cs2.</summary>
    public WaferConfig Wafer { get; init; } = WaferPresets.Cs2;
    /// <summary>External I/O per system, bytes/s each way: 12 x 100 GbE = 1.2 Tb/s = 150 GB/s (docs/sources.md §1.1, GL-SX).</summary>
    public double IoBytesPerSecond { get; init; } = 150e9;
    /// <summary>MemoryX capacity, e.g. 4 TB, its smallest configuration (docs/sources.md §5.2, GL-MX).</summary>
    public double MemoryXBytes { get; init; } = 4e12;
    /// <summary>MemoryX's storage bandwidth for the optimizer, bytes/s: "can match or exceed the I/O bandwidth of a CS-2"
    /// (GL-MX), taken as equal to it.</summary>
    public double MemoryXBytesPerSecond { get; init; } = 150e9;
    /// <summary>SwarmX fan-out per node: one 1:4 broadcast-reduce (docs/sources.md §5.3, GL-SX).</summary>
    public int SwarmXFanOut { get; init; } = 4;
    /// <summary>Latency added per SwarmX tree level, seconds; our assumption (a store-and-forward 100 GbE hop), e.g. 5 us.</summary>
    public double SwarmXLevelLatencySeconds { get; init; } = 5e-6;
    /// <summary>SRAM per PE set aside for double-buffered weight wavelets and outgoing partial sums, bytes; our choice, e.g. 2 KiB.</summary>
    public int StreamBufferBytesPerPe { get; init; } = 2048;
    /// <summary>Wavelets per cycle a row can move into the owner of a partial sum: 1 (one link direction; docs/design.md §2.3).</summary>
    public int ReduceWaveletsPerCycle { get; init; } = 1;
    /// <summary>How a layer is priced, e.g. LayerProgram (see MatmulKernel).</summary>
    public MatmulKernel MatmulKernel { get; init; } = MatmulKernel.LayerProgram;
    /// <summary>Bytes per streamed weight and per returned gradient: 2 (fp16/bf16 mixed precision; fp32 masters stay in MemoryX).</summary>
    public int StreamBytesPerValue { get; init; } = 2;

    public IReadOnlyList<string> Validate()
    {
        var e = new List<string>(Wafer.Validate().Select(x => "wafer: " + x));
        if (!(IoBytesPerSecond > 0)) e.Add($"{nameof(IoBytesPerSecond)} must be > 0");
        if (!(MemoryXBytes > 0)) e.Add($"{nameof(MemoryXBytes)} must be > 0");
        if (!(MemoryXBytesPerSecond > 0)) e.Add($"{nameof(MemoryXBytesPerSecond)} must be > 0");
        if (SwarmXFanOut < 2) e.Add($"{nameof(SwarmXFanOut)} must be >= 2");
        if (SwarmXLevelLatencySeconds < 0) e.Add($"{nameof(SwarmXLevelLatencySeconds)} must be >= 0");
        if (StreamBufferBytesPerPe < 0) e.Add($"{nameof(StreamBufferBytesPerPe)} must be >= 0");
        if (ReduceWaveletsPerCycle < 1) e.Add($"{nameof(ReduceWaveletsPerCycle)} must be >= 1");
        if (StreamBytesPerValue is not (2 or 4)) e.Add($"{nameof(StreamBytesPerValue)} must be 2 or 4");
        return e;
    }

    /// <summary>Peak dense fp16 FLOP/s of the program rectangle: PEs x PeakFlopsPerPeCycle x clock.</summary>
    public double PeakFlopsPerSecond => (double)Wafer.WidthPes * Wafer.HeightPes * Wafer.PeakFlopsPerPeCycle * Wafer.ClockHz;

    public static readonly CerebrasSystem Cs2 = new();
    // CS-3: same I/O (docs/sources.md §1.1, inferred) and the WSE-3 wafer preset (fp16 SIMD 8).
    public static readonly CerebrasSystem Cs3 = new() { Name = "cs3", Wafer = WaferPresets.Cs3, MemoryXBytes = 1.5e12 };
}

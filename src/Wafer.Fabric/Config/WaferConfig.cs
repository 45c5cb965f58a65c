// The wafer's parameters: one immutable record, every number with its unit and source (see docs/architecture.md).
using System.Collections.Immutable;

namespace Wafer.Fabric.Config;

/// <summary>Everything that defines a simulated wafer. Sources are in docs/sources.md (section numbers below).</summary>
public sealed record WaferConfig
{
    /// <summary>Preset or user name, e.g. "cs2".</summary>
    public string Name { get; init; } = "custom";

    /// <summary>Program-rectangle width in PEs (columns, x), e.g. 750 on a CS-2 (docs/sources.md §1.2, inferred from 757 minus the 7-column memcpy border).</summary>
    public int WidthPes { get; init; } = 8;

    /// <summary>Program-rectangle height in PEs (rows, y), e.g. 994 on a CS-2 (docs/sources.md §1.2).</summary>
    public int HeightPes { get; init; } = 8;

    /// <summary>SRAM per PE in bytes, e.g. 49,152 (48 KB; docs/sources.md §1.1 [confirmed: WP-SDK]).</summary>
    public int SramBytesPerPe { get; init; } = 48 * 1024;

    /// <summary>SRAM per PE taken by code, task table and memcpy state, e.g. 2,048 (48 KB minus the ~46 KB usable; docs/sources.md §2.3 [inferred]).</summary>
    public int ReservedSramBytesPerPe { get; init; } = 2 * 1024;

    /// <summary>Routable colors, e.g. 24 (docs/sources.md §3.2 [confirmed: SDK-CV]).</summary>
    public int ColorCount { get; init; } = 24;

    /// <summary>Task IDs per PE, e.g. 64 (docs/sources.md §2.7 [confirmed: SDK-TASK]).</summary>
    public int TaskIdCount { get; init; } = 64;

    /// <summary>Clock in Hz used to turn cycles into seconds, e.g. 850 MHz (SDK benchmarks; HC34 quotes 1.1 GHz; docs/sources.md §1.1).</summary>
    public double ClockHz { get; init; } = 850e6;

    /// <summary>Cycles a wavelet takes from one router to the next, e.g. 1 (docs/sources.md §3.5 [confirmed: WP-SDK "PE-to-PE latency is one cycle"]).</summary>
    public int HopLatencyCycles { get; init; } = 1;

    /// <summary>Cycles between router and compute engine each way, e.g. 2 (docs/sources.md §3.5, T_R ≈ 2 [inferred: LUC24]).</summary>
    public int RampLatencyCycles { get; init; } = 2;

    /// <summary>Cycles between a fabric op taking an element and its result entering the output queue, 0 or 1, e.g. 1:
    /// the compute engine's execute stage, the "+1" of the (2 T_R + 1) per reduce level in the reduce model that
    /// Luczynski et al. measured within 4 % of a CS-2 (docs/sources.md §3.5 [LUC24]). A one-entry register in front of
    /// each output queue: it delays the wavelet without holding a queue slot (docs/architecture.md §3).</summary>
    public int ExecuteLatencyCycles { get; init; } = 1;

    /// <summary>Router buffer per color per input link, in wavelets, e.g. 4. Not public (docs/sources.md §7 item 4): our choice.</summary>
    public int RouterBufferDepthWavelets { get; init; } = 4;

    /// <summary>Compute-engine input queue depths in 32-bit words by queue ID, e.g. 6,6,4,4,2,2,2,2 (docs/sources.md §2.6 [confirmed: SDK-DSD]).</summary>
    public ImmutableArray<int> InputQueueDepthWords { get; init; } = [6, 6, 4, 4, 2, 2, 2, 2];

    /// <summary>Compute-engine output queue depths in 32-bit words by queue ID, 0 = no such queue, e.g. 2,2,6,6,2,2,0,0 (docs/sources.md §2.6 [confirmed: SDK-DSD]).</summary>
    public ImmutableArray<int> OutputQueueDepthWords { get; init; } = [2, 2, 6, 6, 2, 2, 0, 0];

    /// <summary>fp16 elements per cycle for @fmach/@faddh/@fmulh/@fmovh, e.g. 4 (docs/sources.md §2.2 [confirmed: SDK-APX]).</summary>
    public int SimdWidthFp16 { get; init; } = 4;

    /// <summary>fp32 elements per cycle for @fadds/@fsubs/@fmovs/@fmachs, e.g. 2 (docs/sources.md §2.2 [confirmed: SDK-APX]).</summary>
    public int SimdWidthFp32Add { get; init; } = 2;

    /// <summary>fp32 elements per cycle for @fmacs/@fmuls, e.g. 1 (not in the SDK table; docs/sources.md §2.2 [inferred]).</summary>
    public int SimdWidthFp32Mul { get; init; } = 1;

    /// <summary>Elements per cycle for conversions and @fmaxs/@fmaxh, e.g. 1 (docs/sources.md §2.2 [confirmed: SDK-APX]).</summary>
    public int SimdWidthConvert { get; init; } = 1;

    /// <summary>Cycles from a DSD op's issue to its first element, e.g. 1. Not public (docs/sources.md §7 item 7): our choice.</summary>
    public int DsdOpStartupCycles { get; init; } = 1;

    /// <summary>Cycles the task picker takes to start a task, e.g. 2. Not public (docs/sources.md §7 item 7): our choice.</summary>
    public int TaskStartCycles { get; init; } = 2;

    /// <summary>Host link bandwidth for memcpy in bytes per second, e.g. 7 GB/s = 8 channels × ~7 Gb/s (docs/sources.md §3.7 [confirmed: CSLX bandwidth-test]).</summary>
    public double HostBytesPerSecond { get; init; } = 8 * 7e9 / 8;

    /// <summary>Fixed host-command latency in seconds, e.g. 200 µs of TCP overhead (docs/sources.md §3.7 [confirmed: CSLX bandwidth-test]).</summary>
    public double HostCommandLatencySeconds { get; init; } = 200e-6;

    /// <summary>Cycles with no data movement and no compute while work is pending before a run is called deadlocked, e.g. 50 (simfabric sunsetCount; docs/sources.md §3.6).</summary>
    public int DeadlockWindowCycles { get; init; } = 50;

    /// <summary>Peak floating-point operations per PE per cycle, e.g. 8 (4-wide fp16 FMAC; docs/sources.md §1.3).</summary>
    public int PeakFlopsPerPeCycle { get; init; } = 8;

    public int PeCount => WidthPes * HeightPes;
    public int UsableSramBytesPerPe => SramBytesPerPe - ReservedSramBytesPerPe;

    /// <summary>The most PEs a wafer may have: about five CS-2 wafers, far past any built (a bound that keeps every
    /// per-PE index and host array in range).</summary>
    public const int MaxPes = 4_000_000;

    /// <summary>All problems at once, each naming the field; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        void Positive(string field, double value) { if (!(value > 0)) errors.Add($"{field} must be > 0 (is {value})"); }
        Positive(nameof(WidthPes), WidthPes);
        Positive(nameof(HeightPes), HeightPes);
        if ((long)WidthPes * HeightPes > MaxPes) errors.Add($"{nameof(WidthPes)} x {nameof(HeightPes)} must be at most {MaxPes:N0} PEs (is {(long)WidthPes * HeightPes})");
        Positive(nameof(SramBytesPerPe), SramBytesPerPe);
        if (ReservedSramBytesPerPe < 0 || ReservedSramBytesPerPe >= SramBytesPerPe)
            errors.Add($"{nameof(ReservedSramBytesPerPe)} must be in [0, {nameof(SramBytesPerPe)}) (is {ReservedSramBytesPerPe})");
        if (ColorCount is < 1 or > 32) errors.Add($"{nameof(ColorCount)} must be in [1, 32] (5-bit color tag; is {ColorCount})");
        if (TaskIdCount is < 1 or > 64) errors.Add($"{nameof(TaskIdCount)} must be in [1, 64] (is {TaskIdCount})");
        Positive(nameof(ClockHz), ClockHz);
        if (HopLatencyCycles is < 1 or > 64) errors.Add($"{nameof(HopLatencyCycles)} must be in [1, 64] (is {HopLatencyCycles})");
        if (RampLatencyCycles is < 0 or > 64) errors.Add($"{nameof(RampLatencyCycles)} must be in [0, 64] (is {RampLatencyCycles})");
        if (ExecuteLatencyCycles is < 0 or > 1) errors.Add($"{nameof(ExecuteLatencyCycles)} must be 0 or 1 (is {ExecuteLatencyCycles})");
        if (RouterBufferDepthWavelets is < 1 or > 8) errors.Add($"{nameof(RouterBufferDepthWavelets)} must be in [1, 8] (is {RouterBufferDepthWavelets})");
        if (InputQueueDepthWords.IsDefaultOrEmpty || InputQueueDepthWords.Length > 16)
            errors.Add($"{nameof(InputQueueDepthWords)} must list 1 to 16 queue depths");
        else if (InputQueueDepthWords.Any(d => d is < 1 or > 8)) errors.Add($"{nameof(InputQueueDepthWords)} entries must be in [1, 8]");
        if (OutputQueueDepthWords.IsDefaultOrEmpty || OutputQueueDepthWords.Length > 16)
            errors.Add($"{nameof(OutputQueueDepthWords)} must list 1 to 16 queue depths");
        else if (OutputQueueDepthWords.Any(d => d is < 0 or > 8)) errors.Add($"{nameof(OutputQueueDepthWords)} entries must be in [0, 8] (0 = no queue)");
        Positive(nameof(SimdWidthFp16), SimdWidthFp16);
        Positive(nameof(SimdWidthFp32Add), SimdWidthFp32Add);
        Positive(nameof(SimdWidthFp32Mul), SimdWidthFp32Mul);
        Positive(nameof(SimdWidthConvert), SimdWidthConvert);
        if (DsdOpStartupCycles < 0) errors.Add($"{nameof(DsdOpStartupCycles)} must be >= 0 (is {DsdOpStartupCycles})");
        if (TaskStartCycles < 0) errors.Add($"{nameof(TaskStartCycles)} must be >= 0 (is {TaskStartCycles})");
        Positive(nameof(HostBytesPerSecond), HostBytesPerSecond);
        if (HostCommandLatencySeconds < 0) errors.Add($"{nameof(HostCommandLatencySeconds)} must be >= 0");
        if (DeadlockWindowCycles < 1) errors.Add($"{nameof(DeadlockWindowCycles)} must be >= 1 (is {DeadlockWindowCycles})");
        Positive(nameof(PeakFlopsPerPeCycle), PeakFlopsPerPeCycle);
        return errors;
    }
}

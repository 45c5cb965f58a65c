// A runnable fabric program for `wafer run`: layout + PE programs + host driver + host reference check.
using Wafer.Core;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;

namespace Wafer.Kernels;

/// <summary>Sizes a user may set on the command line; each program reads the ones it uses and ignores 0 (= its default).</summary>
public sealed record DemoSize(int Width = 0, int Height = 0, int Length = 0, int Block = 0, int SinkCycles = -1, long Seed = 1, int Outputs = 0, double Sparsity = 0, int Steps = 0, int SeqLen = 0);

/// <summary>The sizes of <see cref="DemoSize"/> a program reads (--seed is read by every program); `wafer run` refuses
/// any other one given, since an option that changes nothing misleads.</summary>
[Flags]
public enum SizeOptions
{
    None = 0,
    Width = 1, Height = 2, Length = 4, Block = 8, Outputs = 16, Sparsity = 32, Steps = 64, Seq = 128, SinkCycles = 256,
}

/// <summary>What a program run produced: the simulator (for stats), the numerical check, and program-specific figures.</summary>
public sealed record DemoResult(
    Simulator Simulator,
    double MaxAbsError,
    double Tolerance,
    IReadOnlyDictionary<string, object> Parameters,
    IReadOnlyDictionary<string, double> Extra,
    long? ModelCycles = null)
{
    public bool Verified => MaxAbsError <= Tolerance;

    /// <summary>(simulated - model) / model, or null when the program has no closed-form model for this case.</summary>
    public double? ModelError => ModelCycles is { } m && m > 0 ? (Simulator.Cycle - m) / (double)m : null;
}

/// <summary>Contract: <see cref="Run"/> builds the layout for the requested rectangle (clamped to the wafer), loads inputs
/// through host memcpy, launches, runs to completion, reads results back and compares them with a host reference.
/// Bad sizes throw <see cref="Wafer.Core.WaferInputException"/>.</summary>
public interface IFabricDemo
{
    string Name { get; }
    string Description { get; }
    /// <summary>The command-line sizes this program reads.</summary>
    SizeOptions Reads { get; }
    DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options);
}

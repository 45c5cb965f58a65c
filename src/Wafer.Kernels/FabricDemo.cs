// A runnable fabric program for `wafer run`: layout + PE programs + host driver + host reference check.
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;

namespace Wafer.Kernels;

/// <summary>Sizes a user may set on the command line; each program reads the ones it uses and ignores 0 (= its default).</summary>
public sealed record DemoSize(int Width = 0, int Height = 0, int Length = 0, int Block = 0, int SinkCycles = -1, long Seed = 1);

/// <summary>What a program run produced: the simulator (for stats), the numerical check, and program-specific figures.</summary>
public sealed record DemoResult(
    Simulator Simulator,
    double MaxAbsError,
    double Tolerance,
    IReadOnlyDictionary<string, object> Parameters,
    IReadOnlyDictionary<string, double> Extra)
{
    public bool Verified => MaxAbsError <= Tolerance;
}

/// <summary>Contract: <see cref="Run"/> builds the layout for the requested rectangle (clamped to the wafer), loads inputs
/// through host memcpy, launches, runs to completion, reads results back and compares them with a host reference.
/// Bad sizes throw <see cref="Wafer.Fabric.WaferInputException"/>.</summary>
public interface IFabricDemo
{
    string Name { get; }
    string Description { get; }
    DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options);
}

// Options of one simulation: threads, the max-cycles guard, and what to trace.
namespace Wafer.Fabric.Engine;

public sealed record SimulatorOptions
{
    /// <summary>Worker threads stepping bands of rows; results are identical for any count.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>A run that reaches this many cycles stops with an error.</summary>
    public long MaxCycles { get; init; } = 200_000_000;

    /// <summary>PEs to trace as (x, y); empty = no trace.</summary>
    public IReadOnlyList<(int X, int Y)> TracePes { get; init; } = [];

    /// <summary>Colors to trace; empty = every color on the traced PEs.</summary>
    public IReadOnlyList<int> TraceColors { get; init; } = [];

    /// <summary>Called from the run loop every <see cref="ProgressIntervalSeconds"/> of host time with the simulated
    /// cycle and the host seconds spent in runs so far, so that a long simulation is not silent; null = no calls.</summary>
    public Action<long, double>? Progress { get; init; }

    public double ProgressIntervalSeconds { get; init; } = 5;
}

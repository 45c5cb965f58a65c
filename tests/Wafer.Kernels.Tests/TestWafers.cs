using Wafer.Fabric.Config;

namespace Wafer.Kernels.Tests;

/// <summary>The wafers the cycle-model tests run on: the CS-2 costs, and the same wafer with slower hops, ramps, task
/// starts and op start-ups, so a model that only matches one set of constants by accident fails.</summary>
internal static class TestWafers
{
    public static readonly WaferConfig Cs2 = WaferPresets.Cs2;
    public static readonly WaferConfig Slow = WaferPresets.Cs2 with { HopLatencyCycles = 3, RampLatencyCycles = 3, TaskStartCycles = 5, DsdOpStartupCycles = 2 };
}

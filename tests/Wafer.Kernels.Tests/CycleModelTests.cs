using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;

namespace Wafer.Kernels.Tests;

/// <summary>Each program's closed-form cycle count (Proofs/CycleModels.cs, Collectives/CollectiveModels.cs) against the simulator, on several shapes
/// and on a wafer with other latencies, so the formulas track the cost model rather than one configuration.</summary>
public class CycleModelTests
{
    private static readonly WaferConfig Cs2 = WaferPresets.Cs2;
    private static readonly WaferConfig Slow = WaferPresets.Cs2 with { HopLatencyCycles = 3, RampLatencyCycles = 3, TaskStartCycles = 5, DsdOpStartupCycles = 2 };

    public static TheoryData<string, int, int, int, int> Cases => new()
    {
        { "stream", 2, 1, 1, 0 }, { "stream", 17, 3, 40, 0 },
        { "broadcast", 1, 1, 8, 0 }, { "broadcast", 9, 4, 33, 0 },
        { "reduce", 1, 1, 8, 0 }, { "reduce", 1, 5, 6, 0 }, { "reduce", 6, 1, 9, 0 }, { "reduce", 7, 5, 13, 0 },
        { "gemv-grid", 1, 1, 8, 8 }, { "gemv-grid", 5, 3, 7, 11 },
        { "matvec", 3, 2, 17, 0 },
        { "pipeline", 2, 1, 20, 0 }, { "pipeline", 5, 1, 30, 0 },
        { "broadcast2d", 1, 1, 8, 0 }, { "broadcast2d", 1, 2, 8, 0 }, { "broadcast2d", 5, 3, 17, 0 }, { "broadcast2d", 64, 64, 16, 0 },
        { "allreduce", 1, 1, 8, 0 }, { "allreduce", 2, 1, 8, 0 }, { "allreduce", 1, 2, 8, 0 }, { "allreduce", 5, 3, 17, 0 }, { "allreduce", 64, 64, 16, 0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Model_EqualsSimulatedCycles(string name, int w, int h, int n, int block)
    {
        foreach (var wafer in new[] { Cs2, Slow })
        {
            var r = DemoRegistry.Find(name)!.Run(wafer, new DemoSize(w, h, n, block, SinkCycles: 3), new SimulatorOptions { Threads = 1 });
            Assert.True(r.Verified);
            Assert.NotNull(r.ModelCycles);
            Assert.Equal(r.ModelCycles!.Value, r.Simulator.Cycle);
        }
    }
}

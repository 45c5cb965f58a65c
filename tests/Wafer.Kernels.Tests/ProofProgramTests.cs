using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Stats;

namespace Wafer.Kernels.Tests;

public class ProofProgramTests
{
    private static readonly WaferConfig Wafer = WaferPresets.Cs2;

    private static DemoResult Run(string name, DemoSize size, int threads = 1) =>
        DemoRegistry.Find(name)!.Run(Wafer, size, new SimulatorOptions { Threads = threads });

    [Fact]
    public void Progress_IsReportedDuringARun_AndChangesNothing()
    {
        var calls = new List<(long Cycle, double Seconds)>();
        var size = new DemoSize(16, 16, 64);
        var quiet = Run("reduce", size);
        var watched = DemoRegistry.Find("reduce")!.Run(Wafer, size, new SimulatorOptions { Threads = 1, ProgressIntervalSeconds = 0, Progress = (c, s) => calls.Add((c, s)) });
        Assert.True(calls.Count >= 1);
        Assert.True(calls.Zip(calls.Skip(1)).All(p => p.First.Cycle < p.Second.Cycle && p.First.Seconds <= p.Second.Seconds));
        Assert.InRange(calls[^1].Cycle, 0, watched.Simulator.Cycle);
        Assert.Equal(quiet.Simulator.Cycle, watched.Simulator.Cycle);
        Assert.Equal(quiet.MaxAbsError, watched.MaxAbsError);
    }

    [Theory]
    [InlineData("gemv-1pe", 1, 1, 0, 0)]
    [InlineData("gemv-1pe", 1, 1, 7, 5)]
    [InlineData("gemv-row", 4, 1, 0, 0)]
    [InlineData("gemv-row", 7, 1, 3, 9)]
    [InlineData("gemv-grid", 2, 2, 0, 0)]
    [InlineData("gemv-grid", 4, 3, 0, 0)]
    [InlineData("gemv-grid", 5, 9, 6, 4)]
    [InlineData("gemv", 64, 64, 8, 8)]
    [InlineData("gemv", 1, 1, 4, 4)]
    public void Gemv_MatchesHostReference(string name, int w, int h, int cols, int rows)
    {
        var r = Run(name, new DemoSize(w, h, cols, rows, Seed: 7));
        Assert.True(r.Verified, $"max error {r.MaxAbsError} > {r.Tolerance}");
        Assert.True(r.Simulator.Cycle > 0);
    }

    [Theory]
    [InlineData(2, 16, 0)]
    [InlineData(3, 20, 0)]
    [InlineData(6, 33, 9)]
    public void Pipeline_AddsOnePerStage_AndStallsUnderASlowSink(int w, int n, int sinkCycles)
    {
        var r = Run("pipeline", new DemoSize(w, 0, n, SinkCycles: sinkCycles));
        Assert.True(r.Verified, $"max error {r.MaxAbsError}");
        // The stage feeding a slow sink waits on full queues; with enough buffering upstream the source may not.
        if (sinkCycles > 0) Assert.True(r.Extra[$"stallCyclesPe{w - 2}"] > 0);
    }

    [Theory]
    [InlineData(1, 1, 8)]
    [InlineData(5, 3, 17)]
    [InlineData(2, 7, 4)]
    [InlineData(64, 64, 16)]
    public void Broadcast_EveryPeOfTheRowGetsTheVector(int w, int h, int n)
    {
        var r = Run("broadcast", new DemoSize(w, h, n));
        Assert.True(r.Verified);
        Assert.Equal(0, r.MaxAbsError);
    }

    [Theory]
    [InlineData(1, 1, 8)]
    [InlineData(1, 6, 5)]
    [InlineData(7, 1, 5)]
    [InlineData(5, 3, 17)]
    [InlineData(64, 64, 8)]
    public void Reduce_SumOfAllVectorsLandsOnTheCorner(int w, int h, int n)
    {
        var r = Run("reduce", new DemoSize(w, h, n));
        Assert.True(r.Verified, $"max error {r.MaxAbsError} > {r.Tolerance}");
    }

    [Theory]
    [InlineData(1, 1, 8)]
    [InlineData(7, 5, 13)]
    [InlineData(64, 64, 16)]
    public void Matvec_EveryPeComputesItsTile_InNSquaredCycles(int w, int h, int n)
    {
        var r = Run("matvec", new DemoSize(w, h, n));
        Assert.True(r.Verified, $"max error {r.MaxAbsError} > {r.Tolerance}");
        // Task start 2, zero y (startup 1 + ceil(n/2)), then per column: loop step 1 + FMAC (startup 1 + n at SIMD 1).
        Assert.Equal(2 + 1 + (n + 1) / 2 + n * (1 + 1 + n) + 1, r.Simulator.Cycle);
        Assert.Equal(1.0, RunStats.Collect(r.Simulator).Utilization, 6);
    }

    [Theory]
    [InlineData("reduce", 16, 12, 8, 0)]
    [InlineData("gemv-grid", 9, 7, 5, 6)]
    [InlineData("pipeline", 5, 0, 40, 0)]
    [InlineData("reduce", 33, 1, 8, 0)]
    public void Stats_AreIdenticalAtOneAndTwoThreads(string name, int w, int h, int n, int block)
    {
        var size = new DemoSize(w, h, n, block, SinkCycles: 3);
        var one = RunStats.Collect(Run(name, size, threads: 1).Simulator);
        var two = RunStats.Collect(Run(name, size, threads: 2).Simulator);
        var hostOnly = new HashSet<string> { "wallSeconds", "peCyclesPerHostSecond", "busyPeCyclesPerHostSecond", "peakRssBytes", "threads" };
        var a = one.Summary().Where(s => !hostOnly.Contains(s.Name)).ToList();
        var b = two.Summary().Where(s => !hostOnly.Contains(s.Name)).ToList();
        Assert.Equal(a, b);
        Assert.Equal(one.PeBusyCycles, two.PeBusyCycles);
        Assert.Equal(one.PeStallCycles, two.PeStallCycles);
        Assert.Equal(one.PeWavelets, two.PeWavelets);
        // Two bands also on one row (a band is a run of PEs, split along the row).
        Assert.Equal(2, two.Threads);
    }

    [Fact]
    public void Sizes_OutsideTheWafer_AreInputErrors()
    {
        Assert.Throws<FabricProgramException>(() => DemoRegistry.Find("reduce")!.Run(WaferPresets.Tiny, new DemoSize(9, 2, 4), new SimulatorOptions()));
        Assert.Throws<WaferInputException>(() => Run("pipeline", new DemoSize(1, 1, 4)));
    }

    [Fact]
    public void Registry_NamesAreUnique_AndEveryProgramRunsOnTiny()
    {
        Assert.Equal(DemoRegistry.All.Count, DemoRegistry.All.Select(d => d.Name).Distinct().Count());
        foreach (var demo in DemoRegistry.All)
        {
            var r = demo.Run(WaferPresets.Tiny, new DemoSize(), new SimulatorOptions { Threads = 2 });
            Assert.True(r.Verified, demo.Name);
        }
    }
}

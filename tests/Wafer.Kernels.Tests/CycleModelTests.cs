using Wafer.Core;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;

namespace Wafer.Kernels.Tests;

/// <summary>Each program's closed-form cycle count (Proofs/CycleModels.cs, Collectives/CollectiveModels.cs) against the simulator, on several shapes
/// and on a wafer with other latencies, so the formulas track the cost model rather than one configuration.</summary>
public class CycleModelTests
{
    private static readonly WaferConfig Cs2 = WaferPresets.Cs2;
    private static readonly WaferConfig Slow = TestWafers.Slow;

    public static TheoryData<string, int, int, int, int> Cases => new()
    {
        { "stream", 2, 1, 1, 0 }, { "stream", 17, 3, 40, 0 }, { "stream", 64, 64, 16, 0 },
        { "broadcast", 1, 1, 8, 0 }, { "broadcast", 9, 4, 33, 0 }, { "broadcast", 64, 64, 16, 0 },
        { "reduce", 1, 1, 8, 0 }, { "reduce", 1, 5, 6, 0 }, { "reduce", 6, 1, 9, 0 }, { "reduce", 7, 5, 13, 0 }, { "reduce", 64, 64, 16, 0 },
        { "gemv-grid", 1, 1, 8, 8 }, { "gemv-grid", 5, 3, 7, 11 }, { "gemv-grid", 64, 64, 8, 8 },
        { "matvec", 3, 2, 17, 0 }, { "matvec", 64, 64, 8, 0 },
        { "pipeline", 2, 1, 20, 0 }, { "pipeline", 5, 1, 30, 0 }, { "pipeline", 64, 1, 20, 0 },
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

    /// <summary>Row and column all-to-all: one PE, two, odd lengths, several lines at once, 64 along the line; every PE
    /// holds the chunk every other PE of its line meant for it, and the model (a recursion over every value) is exact,
    /// on the CS-2 costs and on a wafer with other latencies.</summary>
    [Theory]
    [InlineData("alltoall", 1, 1, 3)]
    [InlineData("alltoall", 2, 1, 1)]
    [InlineData("alltoall", 7, 3, 5)]
    [InlineData("alltoall", 64, 1, 4)]
    [InlineData("alltoall-col", 1, 2, 3)]
    [InlineData("alltoall-col", 4, 9, 2)]
    [InlineData("alltoall-col", 2, 64, 1)]
    public void AllToAll_TransposesEachLine_AndTheModelIsExact(string name, int w, int h, int c)
    {
        foreach (var wafer in new[] { Cs2, Slow })
        {
            var r = DemoRegistry.Find(name)!.Run(wafer, new DemoSize(w, h, c), new SimulatorOptions { Threads = 2 });
            Assert.True(r.Verified, $"{name} {w}x{h} c={c}: max error {r.MaxAbsError}");
            Assert.Equal(r.ModelCycles!.Value, r.Simulator.Cycle);
        }
    }

    /// <summary>The 3-D FFT: one PE, one pencil per PE (q = 1), several (q = 2, 4), against a 3-D DFT in double; the
    /// phase model exact on the CS-2 costs. On a wafer with R = 3 the column transpose's 2-deep output queues throttle
    /// its streams, which the model does not price, so there only the numerics are checked.</summary>
    [Theory]
    [InlineData(1, 4)]
    [InlineData(2, 2)]
    [InlineData(4, 8)]
    [InlineData(4, 16)]
    [InlineData(8, 8)]
    public void Fft3d_MatchesA3dDft_AndTheModelIsExact(int p, int n)
    {
        var fft = DemoRegistry.Find("fft3d")!;
        var r = fft.Run(Cs2, new DemoSize(p, Length: n), new SimulatorOptions { Threads = 2 });
        Assert.True(r.Verified, $"{p} x {p}, N = {n}: max error {r.MaxAbsError} > {r.Tolerance}");
        Assert.True(r.Tolerance < 1e-3 * Fft3dScale(n), "the tolerance stays far below the spectrum's size");
        Assert.Equal(r.ModelCycles!.Value, r.Simulator.Cycle);
        var slow = fft.Run(Slow, new DemoSize(p, Length: n), new SimulatorOptions { Threads = 1 });
        Assert.True(slow.Verified);
    }

    /// <summary>A random complex grid's spectrum grows like N^1.5: the scale the tolerance is compared with.</summary>
    private static double Fft3dScale(int n) => Math.Pow(n, 1.5);

    [Theory]
    [InlineData(4, 12, "power of two")]
    [InlineData(4, 2, "multiple of --width P")]
    [InlineData(2, 64, "bytes of SRAM per PE")]
    public void Fft3d_RefusesWhatItCannotDo(int p, int n, string message)
    {
        var e = Assert.Throws<WaferInputException>(() => DemoRegistry.Find("fft3d")!.Run(Cs2, new DemoSize(p, Length: n), new SimulatorOptions()));
        Assert.Contains(message, e.Message);
    }

    /// <summary>Tree, two-phase and K-tree reduces and the K-tree allreduce: 1 x 1, odd, non-square, partial groups
    /// (a lone participant joins the group before it) and >= 64 PEs; numerics against the float64 sum of every row.</summary>
    public static TheoryData<string, int, int, int, int> LevelCases => new()
    {
        { "reduce-tree", 1, 1, 4, 0 }, { "reduce-tree", 3, 1, 5, 0 }, { "reduce-tree", 13, 2, 5, 0 }, { "reduce-tree", 64, 1, 64, 0 }, { "reduce-tree", 200, 1, 7, 0 },
        { "reduce-2phase", 2, 1, 5, 0 }, { "reduce-2phase", 37, 3, 20, 0 }, { "reduce-2phase", 100, 1, 33, 0 },
        { "reduce-ktree", 11, 1, 1, 2 }, { "reduce-ktree", 100, 1, 64, 3 }, { "reduce-ktree", 81, 2, 9, 4 },
        { "allreduce-ktree", 1, 1, 3, 2 }, { "allreduce-ktree", 7, 3, 9, 2 }, { "allreduce-ktree", 99, 1, 64, 3 }, { "allreduce-ktree", 64, 2, 32, 2 },
    };

    [Theory]
    [MemberData(nameof(LevelCases))]
    public void LevelReduceModel_IsWithinTwoPercentOfSimulation(string name, int w, int h, int n, int k)
    {
        foreach (var wafer in new[] { Cs2, Slow })
        {
            var r = DemoRegistry.Find(name)!.Run(wafer, new DemoSize(w, h, n, k), new SimulatorOptions { Threads = 1 });
            Assert.True(r.Verified, $"{name} {w}x{h} n={n}: max error {r.MaxAbsError} > {r.Tolerance}");
            var error = Math.Abs(r.ModelError!.Value);
            Assert.True(error <= 0.02, $"{name} {w}x{h} n={n} K={k}: simulated {r.Simulator.Cycle}, model {r.ModelCycles} ({error:P1})");
        }
    }

    [Fact]
    public void LevelReduce_Plans_HaveTheExpectedFanIns()
    {
        Assert.Equal([2, 2, 2, 2, 2, 2], Wafer.Kernels.Collectives.LevelReduce.FanIns(Wafer.Kernels.Collectives.LevelPlan.Tree, 64, 0));
        Assert.Equal([28, 28], Wafer.Kernels.Collectives.LevelReduce.FanIns(Wafer.Kernels.Collectives.LevelPlan.TwoPhase, 750, 0));
        Assert.Equal([10, 10, 10], Wafer.Kernels.Collectives.LevelReduce.FanIns(Wafer.Kernels.Collectives.LevelPlan.KTree, 1000, 3));
        Assert.Empty(Wafer.Kernels.Collectives.LevelReduce.FanIns(Wafer.Kernels.Collectives.LevelPlan.Tree, 1, 0));
    }

    [Fact]
    public void LevelReduce_MoreLevelsThanInputQueues_IsRejected()
    {
        var e = Assert.Throws<Wafer.Core.WaferInputException>(() =>
            DemoRegistry.Find("reduce-tree")!.Run(Cs2, new DemoSize(600, 1, 4), new SimulatorOptions { Threads = 1 }));
        Assert.Contains("input queues", e.Message);
    }

    /// <summary>stencil25: 1 x 1 (no fabric), a row, a column, odd and non-square grids, 64 x 64; numerics against a
    /// float64 reference of the same steps, and the schedule model within 10 % (it ignores the buffering that lets a
    /// sender run ahead of a late receiver, so it errs long).</summary>
    public static TheoryData<int, int, int, int> StencilCases => new()
    {
        { 1, 1, 8, 2 }, { 5, 1, 3, 3 }, { 2, 9, 5, 2 }, { 13, 6, 30, 2 }, { 64, 64, 8, 1 },
    };

    [Theory]
    [MemberData(nameof(StencilCases))]
    public void Stencil25_MatchesReference_AndModelIsWithinTenPercent(int w, int h, int nz, int steps)
    {
        foreach (var wafer in new[] { Cs2, Slow })
        {
            var r = DemoRegistry.Find("stencil25")!.Run(wafer, new DemoSize(w, h, nz, Steps: steps), new SimulatorOptions { Threads = 2 });
            Assert.True(r.Verified, $"{w}x{h}x{nz}, {steps} steps: max error {r.MaxAbsError} > {r.Tolerance}");
            var error = Math.Abs(r.ModelError!.Value);
            Assert.True(error <= 0.10, $"{w}x{h}x{nz}: simulated {r.Simulator.Cycle}, model {r.ModelCycles} ({error:P1})");
        }
    }

    /// <summary>stencil25 with the Z column in blocks (--block): the same numerics, the schedule model within 10 %, one
    /// block of nz costs exactly what the unblocked program does, and a block longer than the column is refused.</summary>
    [Theory]
    [InlineData(5, 4, 30, 2, 7)]    // blocks of 7, 7, 7, 7, 2
    [InlineData(6, 6, 40, 2, 10)]
    [InlineData(1, 1, 12, 3, 5)]
    public void Stencil25_InZBlocks_MatchesReference_AndModel(int w, int h, int nz, int steps, int block)
    {
        var stencil = DemoRegistry.Find("stencil25")!;
        var r = stencil.Run(Cs2, new DemoSize(w, h, nz, Block: block, Steps: steps), new SimulatorOptions { Threads = 2 });
        Assert.True(r.Verified, $"{w}x{h}x{nz} in blocks of {block}: max error {r.MaxAbsError} > {r.Tolerance}");
        Assert.True(Math.Abs(r.ModelError!.Value) <= 0.10, $"simulated {r.Simulator.Cycle}, model {r.ModelCycles}");
        Assert.Equal(block, r.Parameters["block"]);
        var whole = stencil.Run(Cs2, new DemoSize(w, h, nz, Steps: steps), new SimulatorOptions { Threads = 1 });
        var oneBlock = stencil.Run(Cs2, new DemoSize(w, h, nz, Block: nz, Steps: steps), new SimulatorOptions { Threads = 1 });
        Assert.Equal(whole.Simulator.Cycle, oneBlock.Simulator.Cycle);
        Assert.NotEqual(whole.Simulator.Cycle, r.Simulator.Cycle);
        var e = Assert.Throws<WaferInputException>(() => stencil.Run(Cs2, new DemoSize(w, h, nz, Block: nz + 1, Steps: 1), new SimulatorOptions()));
        Assert.Contains("--block", e.Message);
    }

    [Fact]
    public void Stencil25_EachDirectionTakesTurnsInFiveRounds()
    {
        // Along a line of 12: in every round each position sends, receives from distance 1..4, or idles at an edge;
        // over the 5 rounds an interior position sends once and hears each of its 4 upstream neighbours once.
        var heard = new List<int>();
        var sends = 0;
        for (var p = 0; p < Wafer.Kernels.Stencil.Stencil25.Rounds; p++)
        {
            var role = Wafer.Kernels.Stencil.Stencil25.Role(7, 12, p);
            if (role < 0) sends++;
            else if (role > 0) heard.Add(role);
        }
        Assert.Equal(1, sends);
        Assert.Equal([1, 2, 3, 4], heard.Order());
        Assert.Equal(0, Wafer.Kernels.Stencil.Stencil25.Role(11, 12, 11 % 5)); // the last position has no one to send to
        Assert.Equal(0, Wafer.Kernels.Stencil.Stencil25.Role(1, 12, 4));       // d = 2 would be position -1
    }

    /// <summary>MeshGEMV: 1 x 1, 2 x 1, odd and non-square, 64 PEs per row, a 3-level tree; fp16 numerics against a
    /// float64 product of the fp16 inputs, and the model (local @fmach loop + centred K-tree) within 2 %.</summary>
    public static TheoryData<int, int, int, int, int> MeshGemvCases => new()
    {
        { 1, 1, 4, 8, 2 }, { 2, 1, 3, 3, 2 }, { 9, 3, 5, 7, 2 }, { 64, 2, 32, 32, 2 }, { 100, 1, 16, 16, 3 },
    };

    [Theory]
    [MemberData(nameof(MeshGemvCases))]
    public void MeshGemv_MatchesReference_AndModelIsWithinTwoPercent(int w, int h, int mt, int nt, int k)
    {
        foreach (var wafer in new[] { Cs2, Slow })
        {
            var r = DemoRegistry.Find("meshgemv")!.Run(wafer, new DemoSize(w, h, mt, nt, Outputs: k), new SimulatorOptions { Threads = 2 });
            Assert.True(r.Verified, $"{w}x{h} Mt {mt} Nt {nt}: max error {r.MaxAbsError} > {r.Tolerance}");
            var error = Math.Abs(r.ModelError!.Value);
            Assert.True(error <= 0.02, $"{w}x{h} Mt {mt} Nt {nt} K {k}: simulated {r.Simulator.Cycle}, model {r.ModelCycles} ({error:P1})");
        }
    }

    [Fact]
    public void CenteredKTree_PutsTheRootNearTheMiddle()
    {
        var tree = new Wafer.Kernels.Collectives.CenteredKTree(512, 2, Wafer.Kernels.Collectives.MeshGemv.FanIn(512, 2), 0);
        Assert.Equal(2, tree.Levels);
        Assert.InRange(tree.RootX, 230, 280);
        Assert.Throws<Wafer.Core.WaferInputException>(() => new Wafer.Kernels.Collectives.CenteredKTree(100, 1, 5, 0));
    }

    /// <summary>SUMMA: 1 x 1, a row, a column, odd and non-square grids (lcm steps), 64 x 64; numerics against a float64
    /// product and the schedule model within 10 % when a panel holds more than 8 values (with 1-8 values the fixed
    /// latencies dominate and the model is 12-14 % long: it charges every step the full broadcast latency).</summary>
    public static TheoryData<int, int, int, int, int> SummaCases => new()
    {
        { 1, 1, 4, 8, 2 }, { 5, 1, 4, 4, 2 }, { 1, 3, 4, 4, 2 }, { 3, 2, 5, 7, 3 }, { 4, 4, 8, 8, 4 }, { 64, 64, 2, 4, 4 },
    };

    [Theory]
    [MemberData(nameof(SummaCases))]
    public void Summa_MatchesReference_AndModelIsWithinTenPercent(int w, int h, int mb, int nb, int b)
    {
        foreach (var wafer in new[] { Cs2, Slow })
        {
            var r = DemoRegistry.Find("summa")!.Run(wafer, new DemoSize(w, h, mb, nb, Outputs: b), new SimulatorOptions { Threads = 2 });
            Assert.True(r.Verified, $"{w}x{h} mb {mb} nb {nb} b {b}: max error {r.MaxAbsError} > {r.Tolerance}");
            var error = Math.Abs(r.ModelError!.Value);
            Assert.True(error <= 0.10, $"{wafer.Name} {w}x{h} mb {mb} nb {nb} b {b}: simulated {r.Simulator.Cycle}, model {r.ModelCycles} ({error:P1})");
        }
    }

    [Fact]
    public void TracingAPeWhoseLoopEndsInAContinuation_DoesNotCrash()
    {
        // A traced PE whose last continuation issued nothing left the op list empty, and the tracer read it back
        // (IndexOutOfRange); found while tracing summa.
        var r = DemoRegistry.Find("summa")!.Run(Cs2, new DemoSize(2, 1, 8, 8, Outputs: 4), new SimulatorOptions { Threads = 1, TracePes = [(0, 0), (1, 0)] });
        Assert.True(r.Verified);
        Assert.Equal(DemoRegistry.Find("summa")!.Run(Cs2, new DemoSize(2, 1, 8, 8, Outputs: 4), new SimulatorOptions { Threads = 1 }).Simulator.Cycle, r.Simulator.Cycle);
    }

    /// <summary>LayerNorm over the block layout: 1 x 1, odd, non-square, 64 x 64; against a float64 LayerNorm of the
    /// same tokens, and the closed form (local ops, row allreduce, scalar rsqrt, normalisation) exactly.</summary>
    [Theory]
    [InlineData(1, 1, 4, 3)]
    [InlineData(3, 5, 7, 5)]
    [InlineData(16, 4, 64, 8)]
    [InlineData(64, 64, 4, 2)]
    public void LayerNorm_MatchesReference_AndModelIsExact(int w, int h, int n, int k)
    {
        foreach (var wafer in new[] { Cs2, Slow })
        {
            var r = DemoRegistry.Find("layernorm")!.Run(wafer, new DemoSize(w, h, n, k), new SimulatorOptions { Threads = 2 });
            Assert.True(r.Verified, $"{w}x{h} n {n} k {k}: max error {r.MaxAbsError} > {r.Tolerance}");
            Assert.Equal(r.ModelCycles!.Value, r.Simulator.Cycle);
        }
    }

    /// <summary>Row softmax, GELU and the residual add on the block layout: 1 x 1, odd, non-square, 64 x 64; numerics
    /// against float64, and the closed forms exactly (their scalar-code costs are ScalarMath's, our choice).</summary>
    [Theory]
    [InlineData("softmax", 1, 1, 4, 3)]
    [InlineData("softmax", 3, 5, 7, 5)]
    [InlineData("softmax", 64, 64, 4, 2)]
    [InlineData("gelu", 1, 1, 4, 3)]
    [InlineData("gelu", 3, 5, 7, 5)]
    [InlineData("gelu", 64, 64, 4, 2)]
    [InlineData("residual", 1, 1, 4, 3)]
    [InlineData("residual", 3, 5, 7, 5)]
    [InlineData("residual", 64, 64, 4, 2)]
    public void LayerPieces_MatchReference_AndModelsAreExact(string name, int w, int h, int n, int k)
    {
        foreach (var wafer in new[] { Cs2, Slow })
        {
            var r = DemoRegistry.Find(name)!.Run(wafer, new DemoSize(w, h, n, k), new SimulatorOptions { Threads = 2 });
            Assert.True(r.Verified, $"{name} {w}x{h} n {n} k {k}: max error {r.MaxAbsError} > {r.Tolerance}");
            Assert.Equal(r.ModelCycles!.Value, r.Simulator.Cycle);
        }
    }

    /// <summary>Causal attention, one head, queries along rows and keys along columns: 1 x 1, 2 x 2, odd, 16 x 16 and
    /// 64 x 64 grids; against a float64 causal softmax attention over all T = P n tokens, and the schedule model
    /// (phases between three row allreduces, RowAllReduce.Done) exactly.</summary>
    [Theory]
    [InlineData(1, 4, 3)]
    [InlineData(2, 3, 2)]
    [InlineData(5, 7, 5)]
    [InlineData(16, 8, 16)]
    [InlineData(64, 2, 4)]
    public void CausalAttention_MatchesReference_AndModelIsExact(int p, int n, int hs)
    {
        foreach (var wafer in new[] { Cs2, Slow })
        {
            var r = DemoRegistry.Find("attention")!.Run(wafer, new DemoSize(p, 0, n, hs), new SimulatorOptions { Threads = 2 });
            Assert.True(r.Verified, $"P {p} n {n} hs {hs}: max error {r.MaxAbsError} > {r.Tolerance}");
            Assert.Equal(r.ModelCycles!.Value, r.Simulator.Cycle);
        }
    }

    [Fact]
    public void CausalAttention_RejectsANonSquareGrid()
    {
        var e = Assert.Throws<Wafer.Core.WaferInputException>(() => DemoRegistry.Find("attention")!.Run(Cs2, new DemoSize(4, 3, 2, 2), new SimulatorOptions()));
        Assert.Contains("--height", e.Message);
    }
}

using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Kernels.Transformer;

namespace Wafer.Kernels.Tests;

/// <summary>The layer cycle model (what the estimate prices a layer with) against the simulated layer program: a whole
/// GPT-2, GPT-J or NeoX block, forward and backward, within 5 % on several shapes, and the parts that are exact on their own.</summary>
public class LayerCycleModelTests
{
    /// <summary>The transformer-layer program at its defaults, forward and backward, within 0.5 % of the layer model: its
    /// weight-gradient phases back the column sums up behind the MemoryX port, where an execute register that held an
    /// output-queue slot (docs/architecture.md §3) slowed the 2-deep queue's stream to 2/3 (1.2 % overall).</summary>
    [Fact]
    public void LayerProgram_AtItsDefaults_IsWithinHalfAPercentOfTheModel()
    {
        var r = DemoRegistry.Find("transformer-layer")!.Run(WaferPresets.Tiny, new DemoSize(Steps: 2), new SimulatorOptions { Threads = 2 });
        Assert.True(r.Verified);
        Assert.InRange(r.ModelError!.Value, -0.005, 0.005);
    }

    [Theory]
    [InlineData(4, 4, 8, 32, 2, 16)]   // heads within columns, sequences over 2 rows
    [InlineData(4, 4, 4, 16, 2, 16)]   // heads over 2 columns, sequences over 4 rows
    [InlineData(2, 2, 16, 16, 2, 8)]   // two sequences per row
    [InlineData(1, 2, 8, 16, 2, 8)]    // one column
    [InlineData(4, 4, 8, 32, 2, 16, "j")]    // GPT-J's block: parallel, one norm, interleaved rotary, no attention biases
    [InlineData(4, 2, 8, 48, 2, 8, "neox")]  // NeoX's block: parallel, two norms, rotary halves
    public void Model_PredictsALayerForwardAndBackward_Within5Percent(int cc, int rows, int n, int c, int heads, int t, string kind = "gpt2")
    {
        var wafer = WaferPresets.Cs2;
        var shape = kind switch
        {
            "j" => new LayerShape(c, 4 * c, heads, t) { ParallelResidual = true, SharedNorm = true, RotaryDims = 4, RotaryInterleaved = true },
            "neox" => new LayerShape(c, 4 * c, heads, t) { ParallelResidual = true, RotaryDims = 6 },
            _ => new LayerShape(c, 4 * c, heads, t),
        };
        var grid = new LayerGrid(cc, rows, n, shape);
        grid.Check();
        var program = new LayerProgram(wafer, grid, 1, new SimulatorOptions { Threads = 2 });
        var schedule = new BlockSchedule(program);
        var w = BlockWeights.Random(c, 4 * c, 3);
        if (kind == "j") w = w with { QkvB = [], ProjB = [], Ln2W = [], Ln2B = [] };
        program.Write(program.Memory.Inputs[0], TransformerPhaseTests.Random(grid.Tokens * c, 5), c);
        schedule.Forward(0, w);
        var forward = program.Sim.Cycle;
        program.Write(program.Memory.DOut, TransformerPhaseTests.Random(grid.Tokens * c, 6), c);
        schedule.Backward(0, w);
        var backward = program.Sim.Cycle - forward;
        var modelForward = LayerCycleModel.Forward(wafer, grid, 0);
        var modelBackward = LayerCycleModel.Backward(wafer, grid, 0);
        Assert.InRange((forward - modelForward) / (double)modelForward, -0.05, 0.05);
        Assert.InRange((backward - modelBackward) / (double)modelBackward, -0.05, 0.05);
        // Every phase the schedule ran has its model, in the same order.
        var phases = LayerCycleModel.ForwardPhases(wafer, grid, 0, full: true).Concat(LayerCycleModel.BackwardPhases(wafer, grid, 0)).Select(p => p.Phase);
        Assert.Equal(phases, program.Log.Select(l => l.Phase));
    }

    [Theory]
    [InlineData(1, 4, 8)]
    [InlineData(2, 8, 8)]
    [InlineData(2, 16, 8)]
    [InlineData(1, 16, 8)]
    public void ProductModel_IsWithinTwoCycles_WhereNoChainMeetsFromBothSides(int cc, int n, int outputsPerColumn)
    {
        var wafer = WaferPresets.Cs2;
        var grid = new LayerGrid(cc, 2, n, new LayerShape(8 * cc, 32 * cc, 1, n));
        var program = new LayerProgram(wafer, grid, 1);
        var map = OutputMap.Block(outputsPerColumn * cc, cc);
        var cycles = program.Run(new ProductPhase("p", grid, program.Memory, program.Memory.Ln1, grid.K, program.Memory.Fch, map, (i, x, f) => 0.5f, i => 1f));
        // The model takes the rows as one timeline each a hop later than the one above; on 2 rows the simulator ends 2
        // cycles later than that.
        Assert.InRange(cycles - LayerCycleModel.Product(wafer, grid, grid.K, outputsPerColumn * cc, bias: true, residual: false, 0), 0, 2);
    }
}

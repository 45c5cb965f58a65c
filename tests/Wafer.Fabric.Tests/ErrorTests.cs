using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Fabric.Tests;

public class ErrorTests
{
    private static Simulator Build(FabricLayout layout) => new(TestPrograms.Wafer(layout.Width, layout.Height), layout, new SimulatorOptions { Threads = 1 });

    [Fact]
    public void SramOverflow_NamesPeAndByteCounts()
    {
        var layout = new FabricLayout(2, 2);
        layout.SetCode(1, 1, new PeCode("big").SymbolF32("a", 8000).SymbolF32("b", 4000));
        var e = Assert.Throws<FabricProgramException>(() => Build(layout));
        Assert.Contains("PE (1,1)", e.Message);
        Assert.Contains("SRAM overflow", e.Message);
        Assert.Contains("symbol 'b'", e.Message);
        Assert.Contains("47104 usable", e.Message);
    }

    [Fact]
    public void ColorRoutedTwice_IsAColorClash()
    {
        var layout = new FabricLayout(2, 1);
        layout.Route(0, 0, 5, Ports.West, Ports.East);
        layout.Route(0, 0, 5, Ports.Ramp, Ports.East);
        var e = Assert.Throws<FabricProgramException>(() => Build(layout));
        Assert.Contains("color clash", e.Message);
        Assert.Contains("color 5", e.Message);
    }

    [Fact]
    public void ColorBoundToTwoInputQueues_IsAColorClash()
    {
        var layout = new FabricLayout(1, 1);
        layout.SetCode(0, 0, new PeCode("q").InputQueue(0, 3).InputQueue(1, 3));
        var e = Assert.Throws<FabricProgramException>(() => Build(layout));
        Assert.Contains("color clash", e.Message);
    }

    [Fact]
    public void RouteOffTheEdge_IsRejectedAtLoad()
    {
        var layout = new FabricLayout(2, 1);
        layout.Route(1, 0, 0, Ports.West, Ports.East);
        var e = Assert.Throws<FabricProgramException>(() => Build(layout));
        Assert.Contains("PE (1,0) color 0", e.Message);
        Assert.Contains("off the edge", e.Message);
    }

    [Fact]
    public void RouteIntoPeThatDoesNotAcceptIt_IsRejectedAtLoad()
    {
        var layout = new FabricLayout(3, 1);
        layout.Route(0, 0, 2, Ports.West, Ports.East);
        layout.Route(1, 0, 2, Ports.North, Ports.East);
        layout.Route(2, 0, 2, Ports.West, Ports.West);
        var e = Assert.Throws<FabricProgramException>(() => Build(layout));
        Assert.Contains("PE (0,0) color 2", e.Message);
        Assert.Contains("accepting WEST", e.Message);
    }

    [Fact]
    public void SameColorFromTwoInputsInOneCycle_IsAnArchitectureViolation()
    {
        var layout = new FabricLayout(3, 1);
        var n = 4;
        var src = new PeCode("src").SymbolF32("v", n).OutputQueue(2, 0).LocalTask(10, c => c.Fmovs(Dsd.FabOut(0, n, 2), c.Mem("v")));
        layout.SetCode(0, 0, src);
        layout.SetCode(2, 0, src);
        layout.Route(0, 0, 0, Ports.Ramp, Ports.East);
        layout.Route(2, 0, 0, Ports.Ramp, Ports.West);
        layout.Route(1, 0, 0, Ports.West | Ports.East, Ports.Ramp);
        layout.SetCode(1, 0, new PeCode("sink").SymbolF32("d", 2 * n).InputQueue(1, 0).LocalTask(10, c => c.Fmovs(c.Mem("d"), Dsd.FabIn(0, 2 * n, 1))));
        var sim = Build(layout);
        sim.Launch(10);
        var e = Assert.Throws<ArchitectureViolationException>(() => sim.Run());
        Assert.Contains("PE (1,0)", e.Message);
        Assert.Contains("color 0 arrived from two inputs in the same cycle", e.Message);
        Assert.Contains("cycle 7", e.Message);
    }

    [Fact]
    public void WaitingForDataNeverSent_IsADeadlockNamingPeColorAndQueue()
    {
        var layout = new FabricLayout(2, 1);
        layout.Route(0, 0, 4, Ports.Ramp, Ports.East);
        layout.Route(1, 0, 4, Ports.West, Ports.Ramp);
        layout.SetCode(0, 0, new PeCode("idle").OutputQueue(2, 4).LocalTask(10, _ => { }));
        layout.SetCode(1, 0, new PeCode("wait").SymbolF32("d", 3).InputQueue(1, 4).LocalTask(10, c => c.Fmovs(c.Mem("d"), Dsd.FabIn(4, 3, 1))));
        var sim = Build(layout);
        sim.Launch(10);
        var e = Assert.Throws<DeadlockException>(() => sim.Run());
        Assert.Contains("PE (1,0)", e.Message);
        Assert.Contains("fabin color 4 queue 1", e.Message);
        Assert.Contains("1 PEs stuck", e.Message);
    }

    [Fact]
    public void MaxCyclesGuard_StopsARunThatIsTooLong()
    {
        var layout = new FabricLayout(1, 1);
        layout.SetCode(0, 0, new PeCode("long").LocalTask(10, c => c.Scalar(5000)));
        var sim = new Simulator(TestPrograms.Wafer(1, 1), layout, new SimulatorOptions { Threads = 1, MaxCycles = 1000 });
        sim.Launch(10);
        var e = Assert.Throws<MaxCyclesException>(() => sim.Run());
        Assert.Contains("1000", e.Message);
    }

    [Fact]
    public void DsdOutsideAllocatedSram_IsRejected()
    {
        var code = new PeCode("oob").SymbolF32("a", 4).LocalTask(10, c => c.Fmovs(c.Mem("a", 8), 0f));
        var e = Assert.Throws<FabricProgramException>(() => OnePe.Run(code));
        Assert.Contains("outside allocated SRAM", e.Message);
    }

    [Fact]
    public void ScalarLoadAfterIssuingAnOp_IsRejected()
    {
        var code = new PeCode("hazard").SymbolF32("a", 4).LocalTask(10, c => { c.Fmovs(c.Mem("a"), 1f); c.LoadF32(c.Address("a")); });
        var e = Assert.Throws<FabricProgramException>(() => OnePe.Run(code));
        Assert.Contains("Then", e.Message);
    }

    [Fact]
    public void ProgramLargerThanWafer_IsRejected()
    {
        var e = Assert.Throws<FabricProgramException>(() => new Simulator(TestPrograms.Wafer(4, 4), new FabricLayout(5, 4)));
        Assert.Contains("exceeds", e.Message);
    }
}

using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Fabric.Tests;

public class MulticastTests
{
    private static (Simulator Sim, long Cycles) Star(Ports tx, int n)
    {
        var layout = new FabricLayout(3, 3);
        layout.Route(1, 1, 0, Ports.Ramp, tx);
        var sink = new PeCode("sink").SymbolF32("dst", n).InputQueue(1, 0).LocalTask(10, ctx => ctx.Fmovs(ctx.Mem("dst"), Dsd.FabIn(0, n, 1)));
        foreach (var d in new[] { Direction.North, Direction.East, Direction.South, Direction.West })
        {
            if ((tx & d.ToPorts()) == 0) continue;
            var (dx, dy) = d.Step();
            layout.Route(1 + dx, 1 + dy, 0, d.Opposite().ToPorts(), Ports.Ramp);
            layout.SetCode(1 + dx, 1 + dy, sink);
        }
        layout.SetCode(1, 1, new PeCode("src").SymbolF32("src", Enumerable.Range(0, n).Select(i => i * 0.5f).ToArray()).OutputQueue(2, 0)
            .LocalTask(10, ctx => ctx.Fmovs(Dsd.FabOut(0, n, 2), ctx.Mem("src"))));
        var sim = new Simulator(TestPrograms.Wafer(3, 3), layout, new SimulatorOptions { Threads = 1 });
        sim.Launch(10);
        return (sim, sim.Run());
    }

    [Fact]
    public void Multicast_EveryDestinationGetsEveryWavelet_InTheSameCycles()
    {
        const int n = 12;
        var (one, oneCycles) = Star(Ports.East, n);
        var (all, allCycles) = Star(Ports.North | Ports.East | Ports.South | Ports.West, n);
        Assert.Equal(oneCycles, allCycles);
        foreach (var (x, y) in new[] { (1, 0), (2, 1), (1, 2), (0, 1) })
            Assert.Equal(Enumerable.Range(0, n).Select(i => i * 0.5f), all.Host.MemcpyD2H("dst", x, y, 1, 1, n));
        Assert.Equal(Enumerable.Range(0, n).Select(i => i * 0.5f), one.Host.MemcpyD2H("dst", 2, 1, 1, 1, n));
    }
}

using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Fabric.Tests;

/// <summary>Off-wafer ports: an edge PE streams host values into the fabric (weights in), another streams fabric values
/// out to the host (gradients out), paced by the link's cycles per value.</summary>
public class PortTests
{
    private static (Simulator Sim, float[] Output) Relay(int n, double inPace, double outPace, float[] input)
    {
        var layout = new FabricLayout(3, 1);
        layout.Route(0, 0, 0, Ports.Ramp, Ports.East);
        layout.Route(1, 0, 0, Ports.West, Ports.East);
        layout.Route(2, 0, 0, Ports.West, Ports.Ramp);
        layout.SetCode(0, 0, new PeCode("in").OutputQueue(2, 0).LocalTask(10, ctx => ctx.Fmovs(Dsd.FabOut(0, n, 2), Dsd.Port(0, n))));
        layout.SetCode(2, 0, new PeCode("out").InputQueue(0, 0).LocalTask(10, ctx => ctx.Fmuls(Dsd.Port(1, n), Dsd.FabIn(0, n, 0), 2f)));
        var sim = new Simulator(TestPrograms.Wafer(3, 1), layout, new SimulatorOptions { Threads = 1 });
        var output = new float[n + 2];
        sim.Host.AttachPort(0, 0, 0, input, 1, n, inPace);
        sim.Host.AttachPort(2, 0, 1, output, 2, n, outPace);
        sim.Launch(10);
        sim.Run();
        return (sim, output);
    }

    [Fact]
    public void Ports_StreamHostValuesThroughTheFabricAndBack()
    {
        const int n = 12;
        var input = Enumerable.Range(0, n + 1).Select(i => (float)i).ToArray();
        var (sim, output) = Relay(n, 0, 0, input);
        Assert.Equal(new[] { 0f, 0f }.Concat(Enumerable.Range(1, n).Select(i => 2f * i)), output);
        Assert.Equal(n, sim.Host.PortMoved(0, 0, 0));
        Assert.Equal(n, sim.Host.PortMoved(2, 0, 1));
    }

    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(3.0, 0.0)]
    [InlineData(0.0, 2.5)]
    public void Ports_PaceTheStreamAtTheLinkRate(double inPace, double outPace)
    {
        const int n = 40;
        var input = Enumerable.Range(0, n + 1).Select(i => (float)i).ToArray();
        var fast = Relay(n, 0, 0, input).Sim.Cycle;
        var (sim, output) = Relay(n, inPace, outPace, input);
        Assert.Equal(2f * n, output[n + 1]);
        var pace = Math.Max(Math.Max(inPace, outPace), 1);
        // The stream moves one value per `pace` cycles once full: (n - 1) gaps of `pace` after the first value.
        Assert.InRange(sim.Cycle, fast + (long)((n - 1) * (pace - 1)) - 2, fast + (long)Math.Ceiling((n - 1) * (pace - 1)) + 2);
    }

    [Fact]
    public void Port_NotAttached_IsAProgramError()
    {
        var layout = new FabricLayout(1, 1);
        layout.SetCode(0, 0, new PeCode("lonely").SymbolF32("v", 4).LocalTask(10, ctx => ctx.Fmovs(ctx.Mem("v"), Dsd.Port(3, 4))));
        var sim = new Simulator(TestPrograms.Wafer(1, 1), layout);
        sim.Launch(10);
        var e = Assert.Throws<FabricProgramException>(() => sim.Run());
        Assert.Contains("port 3 is not attached", e.Message);
    }

    [Fact]
    public void Port_ValuesOutsideTheArray_AreRefused()
    {
        var layout = new FabricLayout(1, 1);
        layout.SetCode(0, 0, new PeCode("p").LocalTask(10, _ => { }));
        var sim = new Simulator(TestPrograms.Wafer(1, 1), layout);
        var e = Assert.Throws<FabricProgramException>(() => sim.Host.AttachPort(0, 0, 0, new float[4], 2, 3));
        Assert.Contains("outside the 4-value array", e.Message);
    }
}

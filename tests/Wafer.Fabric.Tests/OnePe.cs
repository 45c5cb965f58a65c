// A single-PE harness: one PeCode, launched task 10, run to completion.
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Fabric.Tests;

internal static class OnePe
{
    public static (Simulator Sim, long Cycles) Run(PeCode code, WaferConfig? wafer = null, int launch = 10)
    {
        var layout = new FabricLayout(1, 1);
        layout.SetCode(0, 0, code);
        var sim = new Simulator(wafer ?? TestPrograms.Wafer(1, 1), layout, new SimulatorOptions { Threads = 1 });
        sim.Launch(launch);
        return (sim, sim.Run());
    }

    public static float[] Read(Simulator sim, string symbol, int n) => sim.Host.MemcpyD2H(symbol, 0, 0, 1, 1, n);

    public static int[] ReadInts(Simulator sim, string symbol, int n) =>
        sim.Host.MemcpyD2H(symbol, 0, 0, 1, 1, n).Select(BitConverter.SingleToInt32Bits).ToArray();
}

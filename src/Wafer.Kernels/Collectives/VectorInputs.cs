// The input of the vector collectives: n values in [-1, 1) per PE from the run seed, copied into symbol "v" of every PE,
// then the program launched and run; the caller reads back what its collective leaves and checks it.
using Wafer.Fabric.Engine;

namespace Wafer.Kernels.Collectives;

internal static class VectorInputs
{
    /// <summary>Fills "v" on the w x h rectangle, launches startTask, runs to quiescence; returns the inputs, row-major
    /// over PEs (PE p's values at p n ..).</summary>
    public static float[] LoadAndRun(Simulator sim, long seed, int w, int h, int n, int startTask)
    {
        var data = new float[w * h * n];
        var rng = new Random(Seeds.For(seed, w, h));
        for (var i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
        sim.Host.MemcpyH2D("v", 0, 0, w, h, data, n);
        sim.Launch(startTask);
        sim.Run();
        return data;
    }
}

// Routes for a 2-D multicast from a PE at either end of row 0: along row 0 away from the root, and from every PE of
// row 0 down its column (tx sets with several directions copy a wavelet into each, docs/sources.md §3.1). One color.
using Wafer.Fabric.Engine;
using Wafer.Fabric.Routing;

namespace Wafer.Kernels.Collectives;

internal static class Multicast
{
    /// <summary>Input queue a receiving PE binds to the multicast color, output queue of the root: both 6 deep on
    /// WSE-2, deeper than ramp latency + 1, so the stream runs at one wavelet per cycle (a 2-deep output queue holds
    /// each slot for the R cycles of the ramp and throttles it to 2/R per cycle when R > 2).</summary>
    public const int InQueue = 1, OutQueue = 3;

    public static void FromRowZeroEnd(FabricLayout layout, int w, int h, int rootX, int color)
    {
        var along = rootX == 0 ? Ports.East : Ports.West;
        var from = rootX == 0 ? Ports.West : Ports.East;
        for (var x = 0; x < w; x++)
        {
            var isRoot = x == rootX;
            var endOfRow = rootX == 0 ? x == w - 1 : x == 0;
            var tx = (isRoot ? Ports.None : Ports.Ramp) | (endOfRow ? Ports.None : along) | (h > 1 ? Ports.South : Ports.None);
            if (tx != Ports.None) layout.Route(x, 0, color, isRoot ? Ports.Ramp : from, tx);
            for (var y = 1; y < h; y++) layout.Route(x, y, color, Ports.North, Ports.Ramp | (y < h - 1 ? Ports.South : Ports.None));
        }
    }
}

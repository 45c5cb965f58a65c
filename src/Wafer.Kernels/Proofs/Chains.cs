// Routes for chains of PEs that pass a vector along a row (eastwards) or up a column (northwards). Consecutive
// links alternate between two colors (a checkerboard), so a PE's incoming and outgoing colors never clash.
using Wafer.Fabric.Engine;
using Wafer.Fabric.Routing;

namespace Wafer.Kernels.Proofs;

internal static class Chains
{
    /// <summary>Input queue for a row chain's incoming color (depth 6 on WSE-2) and the column chain's (depth 4).</summary>
    public const int RowInQueue = 0, ColumnInQueue = 2;
    /// <summary>Output queues for the outgoing colors (depth 6 each on WSE-2, docs/sources.md §2.6).</summary>
    public const int RowOutQueue = 2, ColumnOutQueue = 3;

    /// <summary>Color of the row link from PE x to PE x+1.</summary>
    public static int RowColor(int x, int baseColor) => baseColor + (x & 1);
    /// <summary>Color of the column link from PE y to PE y-1.</summary>
    public static int ColumnColor(int y, int baseColor) => baseColor + (y & 1);

    public static void RowChain(FabricLayout layout, int y, int width, int baseColor)
    {
        for (var x = 0; x + 1 < width; x++)
        {
            var c = RowColor(x, baseColor);
            layout.Route(x, y, c, Ports.Ramp, Ports.East);
            layout.Route(x + 1, y, c, Ports.West, Ports.Ramp);
        }
    }

    public static void ColumnChain(FabricLayout layout, int x, int height, int baseColor)
    {
        for (var y = height - 1; y > 0; y--)
        {
            var c = ColumnColor(y, baseColor);
            layout.Route(x, y, c, Ports.Ramp, Ports.North);
            layout.Route(x, y - 1, c, Ports.South, Ports.Ramp);
        }
    }
}

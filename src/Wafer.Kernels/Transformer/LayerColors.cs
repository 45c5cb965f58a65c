// Colors, queues and routes of the layer program. Every phase uses the same static routes (a fabric program's routes
// do not change while it runs); a phase uses only the ones it needs, and every stream on a color is consumed in the order
// it was sent, so phases run one after another without reconfiguring anything.
//
// color  what                                              route (worker (x, y), y = 1 .. R)
// 0, 1   row chain east: link x -> x + 1 is color x & 1     x: RAMP -> EAST; x + 1: WEST -> RAMP
// 2, 3   row chain west: link x -> x - 1 is 2 + (x & 1)     x: RAMP -> WEST; x - 1: EAST -> RAMP
// 4      MemoryX stream down each column                   edge: RAMP -> SOUTH; workers NORTH -> {RAMP, SOUTH}, last NORTH -> RAMP
// 5      row multicast east, with loopback                 {WEST, RAMP} -> {RAMP, EAST} (the east end: -> RAMP)
// 6      row multicast west, with loopback                 {EAST, RAMP} -> {RAMP, WEST} (the west end: -> RAMP)
// 8, 9   column chain north: link y -> y - 1 is 8 + (y & 1) y: RAMP -> NORTH; y - 1: SOUTH -> RAMP (the edge row too)
// 10     K/V multicast down a sequence group, loopback     first row RAMP -> {RAMP, SOUTH}; middle {NORTH, RAMP} -> {RAMP, SOUTH}; last {NORTH, RAMP} -> RAMP
//
// A PE that sends on a loopback color receives its own stream too; it sends asynchronously (a microthread) and reads the
// loopback on its main thread, so its own input queue never blocks its send. It sends only after it has read every
// earlier stream of that color that passes its router, so two inputs of one color never meet at a router in one cycle.
using Wafer.Fabric.Engine;
using Wafer.Fabric.Routing;
using Wafer.Kernels.Proofs;

namespace Wafer.Kernels.Transformer;

internal static class LayerColors
{
    public const int EastBase = 0, WestBase = 2, Weights = 4, EastCast = 5, WestCast = 6, NorthBase = 8, KvDown = 10;

    // Input queues (WSE-2 depths 6, 6, 4, 4, 2, 2, 2, 2: the long streams on the deep ones).
    public const int WeightsIn = 0, EastIn = 1, WestIn = 2, NorthIn = 3, EastCastIn = 4, WestCastIn = 5, KvIn = 6;
    // Output queues (depths 2, 2, 6, 6, 2, 2).
    public const int EastCastOut = 0, WestCastOut = 1, EastOut = 2, WestOut = 3, NorthOut = 4, KvOut = 5;
    /// <summary>The edge PE sends the stream down on its 6-deep output queue 2 and reads gradients on input queue 3.</summary>
    public const int EdgeWeightsOut = 2, EdgeNorthIn = 3;

    public static int EastColor(int x) => EastBase + (x & 1);
    public static int WestColor(int x) => WestBase + (x & 1);
    public static int NorthColor(int y) => NorthBase + (y & 1);

    public static void Routes(FabricLayout layout, LayerGrid g)
    {
        int cc = g.Columns, rows = g.Rows;
        for (var x = 0; x < cc; x++)
        {
            layout.Route(x, 0, Weights, Ports.Ramp, Ports.South);
            for (var y = 1; y <= rows; y++)
                layout.Route(x, y, Weights, Ports.North, y < rows ? Ports.Ramp | Ports.South : Ports.Ramp);
            for (var y = rows; y >= 1; y--)
            {
                layout.Route(x, y, NorthColor(y), Ports.Ramp, Ports.North);
                layout.Route(x, y - 1, NorthColor(y), Ports.South, Ports.Ramp);
            }
        }
        for (var y = 1; y <= rows; y++)
        {
            Chains.RowChain(layout, y, cc, EastBase);
            for (var x = cc - 1; x > 0; x--)
            {
                layout.Route(x, y, WestColor(x), Ports.Ramp, Ports.West);
                layout.Route(x - 1, y, WestColor(x), Ports.East, Ports.Ramp);
            }
            if (cc > 1)
                for (var x = 0; x < cc; x++)
                {
                    layout.Route(x, y, EastCast, x > 0 ? Ports.West | Ports.Ramp : Ports.Ramp, x < cc - 1 ? Ports.Ramp | Ports.East : Ports.Ramp);
                    layout.Route(x, y, WestCast, x < cc - 1 ? Ports.East | Ports.Ramp : Ports.Ramp, x > 0 ? Ports.Ramp | Ports.West : Ports.Ramp);
                }
        }
        if (g.GroupRows > 1)
            for (var r = 0; r < rows; r++)
            {
                var first = r % g.GroupRows == 0;
                var last = r % g.GroupRows == g.GroupRows - 1;
                var rx = first ? Ports.Ramp : Ports.North | Ports.Ramp;
                var tx = last ? Ports.Ramp : Ports.Ramp | Ports.South;
                for (var x = 0; x < cc; x++) layout.Route(x, r + 1, KvDown, rx, tx);
            }
    }

    /// <summary>Binds a worker's queues for its position (the same queue always carries the same stream).</summary>
    public static void WorkerQueues(Fabric.Pe.PeCode code, LayerGrid g, int x, int y)
    {
        int cc = g.Columns;
        code.InputQueue(WeightsIn, Weights);
        if (x > 0) code.InputQueue(EastIn, EastColor(x - 1));
        if (x < cc - 1) code.InputQueue(WestIn, WestColor(x + 1));
        if (y < g.Rows) code.InputQueue(NorthIn, NorthColor(y + 1));
        if (x < cc - 1) code.OutputQueue(EastOut, EastColor(x));
        if (x > 0) code.OutputQueue(WestOut, WestColor(x));
        code.OutputQueue(NorthOut, NorthColor(y));
        if (cc > 1)
        {
            code.InputQueue(EastCastIn, EastCast).InputQueue(WestCastIn, WestCast);
            code.OutputQueue(EastCastOut, EastCast).OutputQueue(WestCastOut, WestCast);
        }
        if (g.GroupRows > 1) code.InputQueue(KvIn, KvDown).OutputQueue(KvOut, KvDown);
    }
}

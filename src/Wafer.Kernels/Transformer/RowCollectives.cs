// The collectives the layer phases share, issued on a PE's main thread: the full-row allreduce (a chain east into the
// last column, which multicasts the total west with loopback), the head-group allreduce (a chain east into the group's
// last column, then relayed back west through the group on the west chain), and the column chain north (partials added
// on the way up to the edge PE, which writes them to its MemoryX port). Sums are formed in one order, west to east and
// south to north, and every PE of a row or group receives the same bits.
using Wafer.Fabric.Pe;
using static Wafer.Kernels.Transformer.LayerColors;

namespace Wafer.Kernels.Transformer;

internal static class RowCollectives
{
    /// <summary>total (m values) = the sum over the row of every PE's v; total may be v.</summary>
    public static void RowAllReduce(TaskContext ctx, LayerGrid g, Dsd v, Dsd total, int m)
    {
        int x = ctx.X, cc = g.Columns;
        if (cc == 1)
        {
            if (v.BaseAddress != total.BaseAddress) ctx.Fmovs(total, v);
            return;
        }
        var cast = Dsd.FabIn(WestCast, m, WestCastIn);
        if (x == 0) ctx.Fmovs(Dsd.FabOut(EastColor(x), m, EastOut), v);
        else if (x < cc - 1) ctx.Fadds(Dsd.FabOut(EastColor(x), m, EastOut), Dsd.FabIn(EastColor(x - 1), m, EastIn), v);
        else
        {
            ctx.Fadds(total, Dsd.FabIn(EastColor(x - 1), m, EastIn), v);
            // The multicast runs on a microthread while the main thread drains its own copy (the loopback): the same
            // values, each written after it was sent.
            ctx.Fmovs(Dsd.FabOut(WestCast, m, WestCastOut), total, Completion.Nothing);
        }
        ctx.Fmovs(total, cast);
    }

    /// <summary>v (m values) = the sum over the PE's head group of every member's v (nothing when a column holds whole heads).</summary>
    public static void GroupAllReduce(TaskContext ctx, LayerGrid g, Dsd v, int m)
    {
        var size = g.GroupColumns;
        if (size == 1) return;
        var x = ctx.X;
        var i = x % size;
        if (i == 0)
        {
            ctx.Fmovs(Dsd.FabOut(EastColor(x), m, EastOut), v);
            ctx.Fmovs(v, Dsd.FabIn(WestColor(x + 1), m, WestIn));
        }
        else if (i < size - 1)
        {
            ctx.Fadds(Dsd.FabOut(EastColor(x), m, EastOut), Dsd.FabIn(EastColor(x - 1), m, EastIn), v);
            ctx.Fmovs(v, Dsd.FabIn(WestColor(x + 1), m, WestIn));
            ctx.Fmovs(Dsd.FabOut(WestColor(x), m, WestOut), v);
        }
        else
        {
            ctx.Fadds(v, Dsd.FabIn(EastColor(x - 1), m, EastIn), v);
            ctx.Fmovs(Dsd.FabOut(WestColor(x), m, WestOut), v);
        }
    }

    /// <summary>Sends v (m values) north up the column, adding what arrives from the south (the last row starts it): the
    /// edge PE receives the column's sum.</summary>
    public static void ColumnSum(TaskContext ctx, LayerGrid g, Dsd v, int m)
    {
        var y = ctx.Y;
        var up = Dsd.FabOut(NorthColor(y), m, NorthOut);
        if (y == g.Rows) ctx.Fmovs(up, v);
        else ctx.Fadds(up, Dsd.FabIn(NorthColor(y + 1), m, NorthIn), v);
    }

    /// <summary>The edge PE's side of ColumnSum: the column's m sums go out through MemoryX port 1.</summary>
    public static void EdgeCollect(TaskContext ctx, int m)
    {
        if (m > 0) ctx.Fmovs(Dsd.Port(1, m), Dsd.FabIn(NorthColor(1), m, EdgeNorthIn));
    }

    /// <summary>The edge PE streams m values of MemoryX port 0 down its column.</summary>
    public static void EdgeStream(TaskContext ctx, int m)
    {
        if (m > 0) ctx.Fmovs(Dsd.FabOut(Weights, m, EdgeWeightsOut), Dsd.Port(0, m));
    }

    /// <summary>Row t of a feature-major block as a strided vector over `rows` features (stride n).</summary>
    public static Dsd Column(Buf b, int t, int rows, int n) => Dsd.Mem1D(b.Address + 4 * t, rows, stride: n);
}

// The row allreduce the layer kernels share: along every row, a chain east (colors 0/1, Proofs/Chains) combines each
// PE's vector with what arrives (add or max), the last PE keeps the total and multicasts it west on color 4 (tx {RAMP,
// WEST} in the middle), so every PE of the row ends with it. Queues: chain in 0, broadcast in 1; out 2 and 3.
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;
using Wafer.Kernels.Proofs;

namespace Wafer.Kernels.Layers;

internal static class RowAllReduce
{
    private const int RowBase = 0, Broadcast = 4;
    private const int ChainIn = 0, BroadcastIn = 1, ChainOut = 2, BroadcastOut = 3;

    public static void Routes(FabricLayout layout, int w, int h)
    {
        for (var y = 0; y < h; y++)
        {
            Chains.RowChain(layout, y, w, RowBase);
            if (w == 1) continue;
            layout.Route(w - 1, y, Broadcast, Ports.Ramp, Ports.West);
            for (var x = 1; x < w - 1; x++) layout.Route(x, y, Broadcast, Ports.East, Ports.Ramp | Ports.West);
            layout.Route(0, y, Broadcast, Ports.East, Ports.Ramp);
        }
    }

    public static void DeclareQueues(PeCode code, int x, int w)
    {
        if (w == 1) return;
        if (x > 0) code.InputQueue(ChainIn, Chains.RowColor(x - 1, RowBase));
        if (x < w - 1) code.OutputQueue(ChainOut, Chains.RowColor(x, RowBase));
        if (x == w - 1) code.OutputQueue(BroadcastOut, Broadcast);
        else code.InputQueue(BroadcastIn, Broadcast);
    }

    /// <summary>Replaces v (n elements) on every PE of the row by the row's sum (or max) of v.</summary>
    public static void Issue(TaskContext ctx, Dsd v, int x, int w, int n, bool max)
    {
        if (w == 1) return;
        var first = x == 0;
        var last = x == w - 1;
        void Combine(Dsd dst, Operand a, Operand b) { if (max) ctx.Fmaxs(dst, a, b); else ctx.Fadds(dst, a, b); }
        if (first) ctx.Fmovs(Dsd.FabOut(Chains.RowColor(x, RowBase), n, ChainOut), v);
        else if (!last) Combine(Dsd.FabOut(Chains.RowColor(x, RowBase), n, ChainOut), Dsd.FabIn(Chains.RowColor(x - 1, RowBase), n, ChainIn), v);
        else Combine(v, Dsd.FabIn(Chains.RowColor(x - 1, RowBase), n, ChainIn), v);
        if (last) ctx.Fmovs(Dsd.FabOut(Broadcast, n, BroadcastOut), v);
        else ctx.Fmovs(v, Dsd.FabIn(Broadcast, n, BroadcastIn));
    }

    /// <summary>Cycles from the moment every PE issues its chain op until every PE has the total (Done with equal
    /// issue times: the chain's end and the multicast west over W - 1 hops).</summary>
    public static long Cycles(WaferConfig c, int w, int n) => Done(c, new long[w], n).Max();

    /// <summary>When each PE of a row holds the total, given when each issues its chain op (issue[x]): the chain with
    /// first and last element tracked (SU to start, E + R up, L + R to the next PE's queue; a PE cannot pass on an element
    /// before it has its own op running), the last PE's multicast of n west, and each PE's receive op (issued once its
    /// chain op has pushed its last element).</summary>
    public static long[] Done(WaferConfig c, long[] issue, int n)
    {
        var w = issue.Length;
        var done = (long[])issue.Clone();
        if (w == 1) return done;
        long su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles;
        var pushed = new long[w];
        (long First, long Last)? upstream = null;
        for (var x = 0; x < w; x++)
        {
            upstream = StreamTiming.Stage(c, issue[x], n, upstream);
            pushed[x] = upstream.Value.Last + 1;
        }
        var total = pushed[w - 1]; // the last PE's op ends; it issues the multicast
        done[w - 1] = total + su + n; // pushing n into its output queue
        for (var x = 0; x < w - 1; x++)
        {
            var arrival = total + su + c.ExecuteLatencyCycles + r + (w - 1 - x) * l + r;
            done[x] = Math.Max(arrival, pushed[x] + su) + n;
        }
        return done;
    }
}

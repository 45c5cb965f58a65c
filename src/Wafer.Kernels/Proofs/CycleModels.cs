// Closed-form cycle counts of the proof programs, from the cost model of docs/architecture.md §3:
// TS task start, SU DSD-op startup, L hop latency, R ramp latency, E execute latency (a fabric op's result enters its
// output queue E cycles after the op takes the element). A wavelet streamed through a PE that adds to it
// (fabin -> fadds -> fabout) costs L + 2R + E per hop: the link, the ramp down to the compute engine, the execute
// stage, the ramp back up (HPDC'24's 2 T_R + 1 per level, plus the link).
// The forms hold while every input queue on a path is at least R + 1 deep: a wavelet holds its queue slot from the
// router's push until the compute engine takes it R cycles later, so a shallower queue throttles the stream below one
// wavelet per cycle (the column chain of `reduce` uses queue 2, 4 deep on WSE-2: exact for R <= 3).
using Wafer.Fabric.Config;

namespace Wafer.Kernels.Proofs;

public static class CycleModels
{
    private static (long Ts, long Su, long L, long R) Costs(WaferConfig c) => (c.TaskStartCycles, c.DsdOpStartupCycles, c.HopLatencyCycles, c.RampLatencyCycles);

    /// <summary>From a fabric op taking an element to the router seeing its result: the execute stage and the ramp up.</summary>
    private static long Up(WaferConfig c) => c.ExecuteLatencyCycles + c.RampLatencyCycles;

    private static long Ceil(long a, long b) => (a + b - 1) / b;

    /// <summary>A stream of n wavelets pushed from memory at x = 0 and stored at x = w - 1 (pass-through routers between):
    /// the first leaves the source's ramp at TS + SU + E + R, crosses w - 1 links and the sink's ramp; n pipeline at 1/cycle.</summary>
    public static long Stream(WaferConfig c, int w, int n)
    {
        var (ts, su, l, r) = Costs(c);
        return ts + su + Up(c) + r + (w - 1) * l + n;
    }

    /// <summary>Row broadcast: the root first copies src to dst (task 10: SU + ceil(n / fp32 add width)), then task 11
    /// multicasts; every leaf takes each wavelet off its router in the cycle it lands.</summary>
    public static long Broadcast(WaferConfig c, int w, int n)
    {
        var (ts, su, l, r) = Costs(c);
        var copy = ts + su + Ceil(n, c.SimdWidthFp32Add);
        return w == 1 ? copy : copy + ts + su + Up(c) + r + (w - 1) * l + n;
    }

    /// <summary>End of a row chain whose first element leaves x = 0's ramp at <paramref name="firstForward"/>: each middle
    /// PE adds L + 2R + E, the last PE consumes after L + R, the n elements pipeline. Returns the cycle after the last element.</summary>
    private static long ChainEnd(WaferConfig c, long firstForward, int pes, int n)
    {
        var (_, _, l, r) = Costs(c);
        return firstForward + (pes - 2) * (l + r + Up(c)) + l + r + n;
    }

    /// <summary>Chain reduce: rows east, then the last column north (its ops run one after the other on the last column).</summary>
    public static long Reduce(WaferConfig c, int w, int h, int n)
    {
        var (ts, su, _, r) = Costs(c);
        if (w == 1 && h == 1) return ts;
        // Cycle in which the last column's column op is issued (after its row op, or at once without a row chain).
        var columnIssue = w > 1 ? ChainEnd(c, ts + su + Up(c), w, n) : ts;
        if (h == 1) return columnIssue;
        return ChainEnd(c, columnIssue + su + Up(c), h, n);
    }

    /// <summary>GEMV per PE block mb x nb: zero or copy y (SU + ceil(mb / add width)), then per column a loop step (1)
    /// and an @fmacs (SU + mb at fp32 FMAC width), a last loop step; then the row chain of mb partial sums.</summary>
    public static long Gemv(WaferConfig c, int w, int mb, int nb)
    {
        var (ts, su, _, r) = Costs(c);
        var compute = ts + su + Ceil(mb, c.SimdWidthFp32Add) + 1 + nb * (1 + su + Ceil(mb, c.SimdWidthFp32Mul));
        return w == 1 ? compute : ChainEnd(c, compute + su + Up(c), w, mb);
    }

    /// <summary>Single-tile matvec: zero y, then per column a loop step and an n-element @fmacs, then the last loop step.</summary>
    public static long Matvec(WaferConfig c, int n)
    {
        var (ts, su, _, _) = Costs(c);
        return ts + su + Ceil(n, c.SimdWidthFp32Add) + n * (1 + su + Ceil(n, c.SimdWidthFp32Mul)) + 1;
    }

    /// <summary>Pipeline with a sink slower than the links: the first wavelet becomes visible at the sink after the
    /// source's ramp, w - 2 adders (L + 2R + E each), the last link and ramp; then the sink's data task (TS + k cycles)
    /// sets the pace for all n wavelets.</summary>
    public static long PipelineSinkBound(WaferConfig c, int w, int n, int sinkCycles)
    {
        var (ts, su, l, r) = Costs(c);
        var firstVisible = ts + su + Up(c) + (w - 2) * (l + r + Up(c)) + l + r;
        return firstVisible + n * (ts + sinkCycles);
    }
}

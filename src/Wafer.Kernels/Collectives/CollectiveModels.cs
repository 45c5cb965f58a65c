// Closed-form cycles of the collectives, from the costs of docs/architecture.md §3 (TS task start, SU DSD start-up,
// L hop latency, R ramp latency), in the structure of the wafer-scale reduce model (Luczynski et al., HPDC'24): a
// pipelined stream of n elements plus a depth term per hop.
using Wafer.Fabric.Config;
using Wafer.Kernels.Proofs;

namespace Wafer.Kernels.Collectives;

public static class CollectiveModels
{
    private static long Ceil(long a, long b) => (a + b - 1) / b;

    /// <summary>2-D broadcast from (0, 0): the root's local copy (task 10), then its multicast (task 11) whose farthest
    /// receiver is (W - 1) + (H - 1) hops away; pass-through routers add L each, the two ramps R each.</summary>
    public static long Broadcast2D(WaferConfig c, int w, int h, int n)
    {
        long ts = c.TaskStartCycles, su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles;
        var copy = ts + su + Ceil(n, c.SimdWidthFp32Add);
        return w * h == 1 ? copy : copy + ts + su + 2 * r + (w - 1 + h - 1) * l + n;
    }

    /// <summary>Allreduce: the chain reduce (CycleModels.Reduce) ends on the root, which then multicasts the sum
    /// (W - 1) + (H - 1) hops to PE (0, H - 1).</summary>
    public static long AllReduce(WaferConfig c, int w, int h, int n)
    {
        long su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles;
        var reduce = CycleModels.Reduce(c, w, h, n);
        return w * h == 1 ? reduce : reduce + su + 2 * r + (w - 1 + h - 1) * l + n;
    }
}

// Closed-form cycles of the collectives, from the costs of docs/architecture.md §3 (TS task start, SU DSD start-up,
// L hop latency, R ramp latency, E execute latency before a result's ramp up), in the structure of the wafer-scale reduce model (Luczynski et al., HPDC'24): a
// pipelined stream of n elements plus a depth term per hop.
using Wafer.Fabric.Config;
using Wafer.Kernels.Proofs;

namespace Wafer.Kernels.Collectives;

public static class CollectiveModels
{
    private static long Ceil(long a, long b) => (a + b - 1) / b;

    /// <summary>2-D broadcast from (0, 0): the root's local copy (task 10), then its multicast (task 11) whose farthest
    /// receiver is (W - 1) + (H - 1) hops away; pass-through routers add L each, the execute stage E, the two ramps R each.</summary>
    public static long Broadcast2D(WaferConfig c, int w, int h, int n)
    {
        long ts = c.TaskStartCycles, su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles;
        var copy = ts + su + Ceil(n, c.SimdWidthFp32Add);
        return w * h == 1 ? copy : copy + ts + su + c.ExecuteLatencyCycles + 2 * r + (w - 1 + h - 1) * l + n;
    }

    /// <summary>Allreduce: the chain reduce (CycleModels.Reduce) ends on the root, which then multicasts the sum
    /// (W - 1) + (H - 1) hops to PE (0, H - 1).</summary>
    public static long AllReduce(WaferConfig c, int w, int h, int n)
    {
        long su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles;
        var reduce = CycleModels.Reduce(c, w, h, n);
        return w * h == 1 ? reduce : reduce + su + c.ExecuteLatencyCycles + 2 * r + (w - 1 + h - 1) * l + n;
    }

    /// <summary>Hierarchical row reduce (LevelReduce): level by level, each group's chain as in the chain reduce but with
    /// members `stride` hops apart (stride L per segment instead of L); a member's op issues when its previous level's
    /// op ended. A stream through input queue q moves (R + 1) / depth(q) cycles per element when the queue is shallower
    /// than R + 1 (a slot is held from the router's push until the engine takes it R cycles later), else 1. With
    /// `broadcast` the root then multicasts the sum west over W - 1 hops.</summary>
    public static long LevelReduce(WaferConfig c, int[] fanIns, int w, int n, bool broadcast)
    {
        long ts = c.TaskStartCycles, su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles;
        if (w == 1) return ts;
        long Span(int queue) => StreamTiming.Span(c, n, c.InputQueueDepthWords[queue]);
        var issue = new long[w];
        Array.Fill(issue, ts);
        long stride = 1;
        for (var level = 0; level < fanIns.Length; level++)
        {
            var g = fanIns[level];
            var participants = Collectives.LevelReduce.Participants(fanIns, w, level); // j = 0, stride, 2 stride, ... from the root
            foreach (var (groupStart, members) in Collectives.LevelReduce.Groups(participants, g))
            {
                int X(int k) => (int)(w - 1 - (groupStart + k) * stride);
                // The chain from the group's far end to its leader, `stride` links per segment.
                (long First, long Last)? upstream = null;
                for (var k = members - 1; k >= 0; k--)
                    upstream = StreamTiming.Stage(c, issue[X(k)], Span(level), upstream, stride);
                if (members > 1) issue[X(0)] = upstream!.Value.Last + 1;
            }
            stride *= g;
        }
        var end = issue[w - 1];
        return broadcast ? end + su + c.ExecuteLatencyCycles + 2 * r + (w - 1) * l + Span(Collectives.LevelReduce.BroadcastQueue) : end;
    }
}

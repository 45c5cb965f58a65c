// The timing of a stream through a chain of PEs, for the closed-form models of the chain-shaped collectives (leveled
// reduces, the centred K-tree, the row allreduce): docs/architecture.md §3's costs, SU to start an op, R per ramp,
// L per link.
using Wafer.Fabric.Config;

namespace Wafer.Kernels;

internal static class StreamTiming
{
    /// <summary>Cycles n values take through an input queue `depth` words deep: n, or n (R + 1) / depth when the queue
    /// is shallower than R + 1 (a slot is held from the router's push until the engine takes it R cycles later).</summary>
    public static long Span(WaferConfig c, int n, int depth) => (long)Math.Ceiling(n * Math.Max(1.0, (c.RampLatencyCycles + 1.0) / depth));

    /// <summary>Cycles from an engine taking a value to the value being visible in the input queue of an engine `hops`
    /// links away: the execute stage, the ramp up, the links, the ramp down (E + 2R + hops L).</summary>
    public static long Path(WaferConfig c, long hops = 1) => c.ExecuteLatencyCycles + 2L * c.RampLatencyCycles + hops * c.HopLatencyCycles;

    /// <summary>One stage of a chain: the cycles at which a PE's op takes its first and last element, given when the op
    /// issues and, for a PE with an upstream stage `hops` links away, when that stage took them (each element then goes
    /// through the execute stage, up its ramp, across the links and down this PE's ramp). An element cannot pass its predecessor, so the last
    /// comes no sooner than the first plus the span.</summary>
    public static (long First, long Last) Stage(WaferConfig c, long issue, long span, (long First, long Last)? upstream = null, long hops = 1)
    {
        long first = issue + c.DsdOpStartupCycles, last = first + span - 1;
        if (upstream is { } u)
        {
            var path = Path(c, hops);
            first = Math.Max(u.First + path, first);
            last = Math.Max(u.Last + path, first + span - 1);
        }
        return (first, last);
    }
}

// A K-tree allreduce along a row with each group's root in its middle (WaferLLM's MeshGEMV allreduce, OSDI'25): at each
// level the participants form groups of g; the members west of a group's middle chain east into it and the members
// east of it chain west, so a chain is half as long as with the root at an end; the middle members go on to the next
// level; the last root multicasts the sum both ways along the row. Used by MeshGemv on fp16 vectors.
//
// Colors: level l, side s (0: flowing east, 1: flowing west), alternating by member index: 4l + 2s + (k & 1) from
// `baseColor`; the broadcast on baseColor + 4K. Input queues: level l from the west on 2l, from the east on 2l + 1;
// the broadcast on 2K. A member sends once, on output queue 2; the root broadcasts on output queue 3.
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Kernels.Collectives;

public sealed class CenteredKTree
{
    public const int SendQueue = 2, BroadcastOutQueue = 3;
    private readonly int _w, _baseColor;
    /// <summary>Per level, the groups: member x positions in order (west to east) and the root's index.</summary>
    private readonly List<List<(int[] Members, int Root)>> _levels = [];

    public int Levels => _levels.Count;
    public int RootX { get; }
    public int BroadcastColor => _baseColor + 4 * Levels;
    public int BroadcastQueue => 2 * Levels;

    /// <summary>Groups of <paramref name="fanIn"/> participants for <paramref name="k"/> levels (fewer when one
    /// participant is left sooner) over a row of <paramref name="w"/> PEs; a lone participant left at the east end
    /// joins the group before it.</summary>
    public CenteredKTree(int w, int k, int fanIn, int baseColor)
    {
        if (fanIn < 2) throw new WaferInputException($"a K-tree group needs at least 2 members (got {fanIn})");
        _w = w;
        _baseColor = baseColor;
        var participants = Enumerable.Range(0, w).ToArray();
        for (var l = 0; l < k && participants.Length > 1; l++)
        {
            var groups = new List<(int[] Members, int Root)>();
            for (var s = 0; s < participants.Length; s += fanIn)
                groups.Add((participants[s..Math.Min(participants.Length, s + fanIn)], 0));
            if (groups.Count > 1 && groups[^1].Members.Length == 1)
            {
                var lone = groups[^1].Members[0];
                groups.RemoveAt(groups.Count - 1);
                groups[^1] = ([.. groups[^1].Members, lone], 0);
            }
            for (var g = 0; g < groups.Count; g++) groups[g] = (groups[g].Members, (groups[g].Members.Length - 1) / 2);
            _levels.Add(groups);
            participants = groups.Select(g => g.Members[g.Root]).ToArray();
        }
        if (participants.Length > 1)
            throw new WaferInputException($"a {k}-level tree of groups of {fanIn} cannot reduce {w} PEs (use more levels or larger groups)");
        RootX = participants[0];
    }

    private int Color(int level, int side, int k) => _baseColor + 4 * level + 2 * side + (k & 1);

    /// <summary>What PE x does at each level: (level, member index, root index, group size), until it sends.</summary>
    private IEnumerable<(int Level, int K, int Root, int[] Members)> Steps(int x)
    {
        for (var l = 0; l < _levels.Count; l++)
        {
            var group = _levels[l].FirstOrDefault(g => g.Members.Contains(x));
            if (group.Members is null) yield break;
            var k = Array.IndexOf(group.Members, x);
            yield return (l, k, group.Root, group.Members);
            if (k != group.Root) yield break;
        }
    }

    public void Routes(FabricLayout layout, int y)
    {
        for (var l = 0; l < _levels.Count; l++)
            foreach (var (members, root) in _levels[l])
                for (var k = 0; k < members.Length; k++)
                {
                    if (k == root) continue;
                    var side = k < root ? 0 : 1;
                    var next = side == 0 ? members[k + 1] : members[k - 1];
                    var c = Color(l, side, k);
                    var (forward, back) = side == 0 ? (Ports.East, Ports.West) : (Ports.West, Ports.East);
                    layout.Route(members[k], y, c, Ports.Ramp, forward);
                    for (var p = Math.Min(members[k], next) + 1; p < Math.Max(members[k], next); p++) layout.Route(p, y, c, back, forward);
                    layout.Route(next, y, c, back, Ports.Ramp);
                }
        if (_w == 1) return;
        var bc = BroadcastColor;
        layout.Route(RootX, y, bc, Ports.Ramp, (RootX > 0 ? Ports.West : Ports.None) | (RootX < _w - 1 ? Ports.East : Ports.None));
        for (var x = 0; x < _w; x++)
        {
            if (x == RootX) continue;
            var (from, onward) = x < RootX ? (Ports.East, Ports.West) : (Ports.West, Ports.East);
            var last = x == 0 || x == _w - 1;
            layout.Route(x, y, bc, from, last ? Ports.Ramp : Ports.Ramp | onward);
        }
    }

    public void DeclareQueues(PeCode code, int x)
    {
        foreach (var (l, k, root, members) in Steps(x))
        {
            if (k == root)
            {
                if (k > 0) code.InputQueue(2 * l, Color(l, 0, k - 1));
                if (k < members.Length - 1) code.InputQueue(2 * l + 1, Color(l, 1, k + 1));
                continue;
            }
            var side = k < root ? 0 : 1;
            var upstream = side == 0 ? k - 1 : k + 1;
            if (upstream >= 0 && upstream < members.Length) code.InputQueue(2 * l + side, Color(l, side, upstream));
            code.OutputQueue(SendQueue, Color(l, side, k));
        }
        if (_w == 1) return;
        if (x == RootX) code.OutputQueue(BroadcastOutQueue, BroadcastColor);
        else code.InputQueue(BroadcastQueue, BroadcastColor);
    }

    /// <summary>PE x's ops: fp16 adds of what arrives into or through v, then the broadcast.</summary>
    public void Issue(TaskContext ctx, Dsd v, int x, int n)
    {
        foreach (var (l, k, root, members) in Steps(x))
        {
            if (k == root)
            {
                if (k > 0) ctx.Faddh(v, Dsd.FabIn(Color(l, 0, k - 1), n, 2 * l), v);
                if (k < members.Length - 1) ctx.Faddh(v, Dsd.FabIn(Color(l, 1, k + 1), n, 2 * l + 1), v);
                continue;
            }
            var side = k < root ? 0 : 1;
            var upstream = side == 0 ? k - 1 : k + 1;
            var output = Dsd.FabOut(Color(l, side, k), n, SendQueue);
            if (upstream >= 0 && upstream < members.Length) ctx.Faddh(output, Dsd.FabIn(Color(l, side, upstream), n, 2 * l + side), v);
            else ctx.Fmovh(output, v);
        }
        if (_w == 1) return;
        if (x == RootX) ctx.Fmovh(Dsd.FabOut(BroadcastColor, n, BroadcastOutQueue), v);
        else ctx.Fmovh(v, Dsd.FabIn(BroadcastColor, n, BroadcastQueue));
    }

    /// <summary>Cycle at which every PE holds the sum, given when each PE issues its first reduce op (`issue`, per x):
    /// per level and group, the two chains as in CollectiveModels.LevelReduce (first and last element tracked, stride
    /// = hops between members), the root adding the west chain then the east one; then the root's multicast, W - 1 - x
    /// hops to the far end. Streams through input queues shallower than R + 1 move (R + 1) / depth cycles per element.</summary>
    public long ModelCycles(WaferConfig c, long[] issue, int n)
    {
        long su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles;
        var ready = (long[])issue.Clone();
        for (var level = 0; level < _levels.Count; level++)
            foreach (var (members, root) in _levels[level])
            {
                var rootX = members[root];
                foreach (var side in new[] { 0, 1 })
                {
                    // This side's chain towards the root (which adds the west chain, then the east one).
                    var order = side == 0 ? Enumerable.Range(0, root) : Enumerable.Range(root + 1, members.Length - root - 1).Reverse();
                    var span = StreamTiming.Span(c, n, c.InputQueueDepthWords[2 * level + side]);
                    (long First, long Last)? upstream = null;
                    var prevX = -1;
                    foreach (var k in order)
                    {
                        upstream = StreamTiming.Stage(c, ready[members[k]], span, upstream, Math.Abs(members[k] - prevX));
                        prevX = members[k];
                    }
                    if (upstream is null) continue;
                    ready[rootX] = StreamTiming.Stage(c, ready[rootX], span, upstream, Math.Abs(rootX - prevX)).Last + 1;
                }
            }
        if (_w == 1) return ready[RootX];
        var farthest = Math.Max(RootX, _w - 1 - RootX);
        return ready[RootX] + su + c.ExecuteLatencyCycles + 2 * r + farthest * l + StreamTiming.Span(c, n, c.InputQueueDepthWords[BroadcastQueue]);
    }
}

// Hierarchical row reduce: the tree, two-phase and K-tree reduces of Luczynski et al. (HPDC'24) and WaferLLM (OSDI'25)
// as one program. Every row of a W x H grid reduces its W vectors to its east end (x = W - 1) in levels: level l joins
// groups of g_l participants spaced s_l = g_0 ... g_(l-1) PEs apart with a chain (each member adds what arrives from the
// west to its own vector and streams the sum east; the group's east-most member, its leader, keeps it and goes on to
// level l + 1). Fan-ins: all 2 = binary tree; one level of W = the chain; two levels of ceil(sqrt W) = two-phase; K
// levels of ceil(W^(1/K)) = K-tree. With `broadcast`, the root then multicasts the sum back west along the row: an
// allreduce (WaferLLM's K-tree allreduce).
//
// Routes: level l uses colors 2l and 2l + 1, alternating along its chain so a member's incoming and outgoing colors
// differ; routers between two members pass the stream through (WEST -> EAST). Queues: level l arrives on input queue
// l; a PE sends at one level only, on output queue 2 (6 deep); the root broadcasts on output queue 3. Eight input
// queues (docs/sources.md §2.6) bound the levels to 8, 7 with the broadcast (input queue 7, color 16). Queues 4-7 are 2 words
// deep, shallower than a ramp's R + 1 cycles, so levels 4 and up and the broadcast stream at 2 / (R + 1) per cycle.
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Kernels.Collectives;

public enum LevelPlan { Tree, TwoPhase, KTree }

public sealed class LevelReduce(string name, string description, LevelPlan plan, bool broadcast) : IFabricDemo
{
    public const int StartTask = 10;
    public const int MaxLevels = 8;
    internal const int BroadcastColor = 16, BroadcastQueue = 7;
    internal const int SendQueue = 2, BroadcastOutQueue = 3;
    public string Name => name;
    public string Description => description;
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block;

    /// <summary>Fan-in of each level for a row of <paramref name="w"/> PEs; <paramref name="k"/> is the K-tree's level
    /// count (ignored by the other plans).</summary>
    public static int[] FanIns(LevelPlan plan, int w, int k)
    {
        if (w <= 1) return [];
        int levels, g;
        switch (plan)
        {
            case LevelPlan.Tree:
                g = 2;
                levels = 0;
                for (long span = 1; span < w; span *= 2) levels++;
                break;
            case LevelPlan.TwoPhase:
                (levels, g) = (2, SmallestRoot(w, 2));
                break;
            default:
                if (k < 1) throw new WaferInputException($"a K-tree needs K >= 1 levels (got {k})");
                (levels, g) = (k, SmallestRoot(w, k));
                break;
        }
        // Stop once one participant is left (e.g. two-phase on 2 PEs needs one level).
        var fanIns = new List<int>();
        long participants = w;
        for (var l = 0; l < levels && participants > 1; l++) { fanIns.Add(g); participants = Groups(participants, g).Count; }
        return fanIns.ToArray();
    }

    /// <summary>Smallest g >= 2 with g^k >= w.</summary>
    private static int SmallestRoot(int w, int k)
    {
        var g = Math.Max(2, (int)Math.Floor(Math.Pow(w, 1.0 / k)));
        while (Pow(g, k) < w) g++;
        while (g > 2 && Pow(g - 1, k) >= w) g--;
        return g;
    }

    private static long Pow(long b, int e) { long r = 1; for (var i = 0; i < e; i++) r = Math.Min(r * b, long.MaxValue / 4); return r; }

    /// <summary>The groups of a level with <paramref name="participants"/> participants (index 0 = the root side):
    /// consecutive runs of g; a lone participant left at the far end joins the group before it (g + 1 members), so no
    /// participant sends early over links its neighbours' lower-level streams still use.</summary>
    internal static List<(long Start, int Members)> Groups(long participants, int g)
    {
        var groups = new List<(long Start, int Members)>();
        for (long start = 0; start < participants; start += g) groups.Add((start, (int)Math.Min(g, participants - start)));
        if (groups.Count > 1 && groups[^1].Members == 1)
        {
            groups.RemoveAt(groups.Count - 1);
            groups[^1] = (groups[^1].Start, groups[^1].Members + 1);
        }
        return groups;
    }

    /// <summary>Participants of level l: the W PEs at level 0, then one leader per group of the level below.</summary>
    internal static long Participants(int[] fanIns, int w, int l)
    {
        long participants = w;
        for (var i = 0; i < l; i++) participants = Groups(participants, fanIns[i]).Count;
        return participants;
    }

    /// <summary>Distance between neighbouring participants of level l.</summary>
    internal static long Stride(int[] fanIns, int l)
    {
        long stride = 1;
        for (var i = 0; i < l; i++) stride *= fanIns[i];
        return stride;
    }

    /// <summary>PE x's role at level l: its member index k in its group (0 = leader) and whether a member to its west
    /// sends to it; null when x is not a participant at level l (it sent at a lower level).</summary>
    internal static (int K, bool HasUpstream)? Role(int[] fanIns, int w, int x, int l)
    {
        var j = w - 1 - x; // distance from the root
        for (var level = 0; level <= l; level++)
        {
            var stride = Stride(fanIns, level);
            if (j % stride != 0) return null;
            var idx = j / stride;
            foreach (var (start, members) in Groups(Participants(fanIns, w, level), fanIns[level]))
            {
                if (idx < start || idx >= start + members) continue;
                var k = (int)(idx - start);
                if (level == l) return (k, k + 1 < members);
                if (k > 0) return null;
                break;
            }
        }
        return null;
    }

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = size.Width > 0 ? size.Width : Math.Min(16, wafer.WidthPes);
        var h = size.Height > 0 ? size.Height : 1;
        var n = size.Length > 0 ? size.Length : 32;
        var k = size.Block > 0 ? size.Block : broadcast ? 2 : 3;
        if (w > wafer.WidthPes || h > wafer.HeightPes) throw new WaferInputException($"{Name}: {w} x {h} PEs do not fit the {wafer.WidthPes} x {wafer.HeightPes} wafer");
        var fanIns = FanIns(plan, w, k);
        var maxLevels = broadcast ? MaxLevels - 1 : MaxLevels;
        if (fanIns.Length > maxLevels)
            throw new WaferInputException($"{Name}: {fanIns.Length} levels on a row of {w} PEs need {fanIns.Length} input queues; the PE has {maxLevels} for this program (use fewer, wider levels)");
        var layout = new FabricLayout(w, h);
        for (var y = 0; y < h; y++) Routes(layout, fanIns, w, y, broadcast);
        var codes = new Dictionary<int, PeCode>();
        layout.SetCode((x, _) =>
        {
            if (!codes.TryGetValue(x, out var code)) codes[x] = code = Code(fanIns, w, x, n, broadcast);
            return code;
        });
        var sim = new Simulator(wafer, layout, options);
        var data = Collectives.VectorInputs.LoadAndRun(sim, size.Seed, w, h, n, StartTask);
        var got = sim.Host.MemcpyD2H("v", 0, 0, w, h, n);
        double maxErr = 0, tol = 0;
        for (var y = 0; y < h; y++)
            for (var i = 0; i < n; i++)
            {
                double sum = 0, mag = 0;
                for (var x = 0; x < w; x++) { var v = data[(y * w + x) * n + i]; sum += v; mag += Math.Abs(v); }
                tol = Math.Max(tol, 2e-6 * mag);
                for (var x = broadcast ? 0 : w - 1; x < w; x++) maxErr = Math.Max(maxErr, Math.Abs(got[(y * w + x) * n + i] - sum));
            }
        var parameters = new Dictionary<string, object>
        {
            ["width"] = w, ["height"] = h, ["length"] = n, ["levels"] = fanIns.Length, ["fanIns"] = string.Join(",", fanIns),
        };
        return new DemoResult(sim, maxErr, tol, parameters, new Dictionary<string, double>(), CollectiveModels.LevelReduce(wafer, fanIns, w, n, broadcast));
    }

    internal static int LevelColor(int level, int k) => 2 * level + (k & 1);

    private static void Routes(FabricLayout layout, int[] fanIns, int w, int y, bool broadcast)
    {
        for (var l = 0; l < fanIns.Length; l++)
        {
            var stride = Stride(fanIns, l);
            for (var x = 0; x < w; x++)
            {
                if (Role(fanIns, w, x, l) is not { K: > 0 } role) continue;
                // Member k at x sends east to member k - 1 at x + stride on the color of its own index.
                var c = LevelColor(l, role.K);
                layout.Route(x, y, c, Ports.Ramp, Ports.East);
                for (var p = x + 1; p < x + stride; p++) layout.Route(p, y, c, Ports.West, Ports.East);
                layout.Route((int)(x + stride), y, c, Ports.West, Ports.Ramp);
            }
        }
        if (!broadcast || w == 1) return;
        layout.Route(w - 1, y, BroadcastColor, Ports.Ramp, Ports.West);
        for (var x = w - 2; x > 0; x--) layout.Route(x, y, BroadcastColor, Ports.East, Ports.Ramp | Ports.West);
        layout.Route(0, y, BroadcastColor, Ports.East, Ports.Ramp);
    }

    private static PeCode Code(int[] fanIns, int w, int x, int n, bool broadcast)
    {
        var code = new PeCode($"{(broadcast ? "allreduce" : "reduce")}-levels-{x}").SymbolF32("v", n);
        var steps = new List<(int Level, int K, bool HasUpstream)>();
        for (var l = 0; l < fanIns.Length; l++)
        {
            if (Role(fanIns, w, x, l) is not { } role) break;
            steps.Add((l, role.K, role.HasUpstream));
            if (role.HasUpstream) code.InputQueue(l, LevelColor(l, role.K + 1));
            if (role.K > 0) { code.OutputQueue(SendQueue, LevelColor(l, role.K)); break; }
        }
        var root = x == w - 1;
        if (broadcast && w > 1)
        {
            if (root) code.OutputQueue(BroadcastOutQueue, BroadcastColor);
            else code.InputQueue(BroadcastQueue, BroadcastColor);
        }
        code.LocalTask(StartTask, ctx =>
        {
            var v = ctx.Mem("v");
            foreach (var (l, k, up) in steps)
            {
                var inp = Dsd.FabIn(LevelColor(l, k + 1), n, l);
                if (k == 0)
                {
                    if (up) ctx.Fadds(v, inp, v);
                    continue;
                }
                var outp = Dsd.FabOut(LevelColor(l, k), n, SendQueue);
                if (up) ctx.Fadds(outp, inp, v);
                else ctx.Fmovs(outp, v);
            }
            if (!broadcast || w == 1) return;
            if (root) ctx.Fmovs(Dsd.FabOut(BroadcastColor, n, BroadcastOutQueue), v);
            else ctx.Fmovs(v, Dsd.FabIn(BroadcastColor, n, BroadcastQueue));
        });
        return code;
    }
}

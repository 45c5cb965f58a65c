// Rotary positions on q and k (RoFormer; GPT-J's interleaved pairs, NeoX's halves), on each PE's own block: every pair
// sits at adjacent rows of a column's q and k blocks (NeoX's after OutputMap.Qkv's reorder; LayerGrid refuses an odd
// number of features per column, which would split one), and the tables hold each pair's cos and sin at the row's
// token positions. Forward rotates by the angle, backward (on dq, dk) by its opposite.
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Transformer;

public sealed class RotaryPhase(string name, LayerGrid g, LayerMemory m, Buf qk, bool backward) : LayerPhase(name)
{
    public override void Start(TaskContext ctx)
    {
        if (ctx.Y == 0) return;
        int n = g.N, k = g.K;
        Dsd t0 = m.Temp.Row(0, n), t1 = m.Temp.Row(1, n), t2 = m.Temp.Row(2, n), t3 = m.Temp.Row(3, n);
        var pairs = g.RotaryPairs(ctx.X);
        for (var p = 0; p < pairs.Count; p++)
        {
            Dsd cos = m.Rotary.Row(2 * p, n), sin = m.Rotary.Row(2 * p + 1, n);
            for (var part = 0; part < 2; part++) // q, then k
            {
                Dsd a = qk.Row(part * k + pairs[p].F0, n), b = qk.Row(part * k + pairs[p].F1, n);
                ctx.Fmuls(t0, a, cos);
                ctx.Fmuls(t1, b, sin);
                ctx.Fmuls(t2, b, cos);
                ctx.Fmuls(t3, a, sin);
                if (backward)
                {
                    ctx.Fadds(a, t0, t1);
                    ctx.Fsubs(b, t2, t3);
                }
                else
                {
                    ctx.Fsubs(a, t0, t1);
                    ctx.Fadds(b, t2, t3);
                }
            }
        }
    }
}

// Multi-head causal self-attention on the block layout, forward and backward, every head at once. Column x holds q, k
// and v for its k features; a head's hs features lie in one column (k / hs heads there) or span a group of hs / k
// columns, whose partial scores are summed by a head-group allreduce. Row r holds n queries; the keys it sees are
// those of rows r0 .. r of its sequence group (a sequence spans T / n rows), which reach it by a K/V multicast down
// the column: each row, in turn, sends its K and V blocks to the rows below it in its group (and, by loopback, to
// itself). Scores are kept transposed, S^T[key][query], so every reduction over keys is elementwise over n-query
// vectors; exp, log and 1/x are scalar code. The forward keeps each query's log-sum-exp; the backward recomputes the
// probabilities from it (FlashAttention style: no T x T matrix is kept), forms dQ locally and dK, dV for every visible
// key, and sends the parts for earlier rows' keys back up the column, added row by row, to the rows that own them.
using Wafer.Fabric.Pe;
using Wafer.Kernels.Layers;
using static Wafer.Kernels.Transformer.LayerColors;
using static Wafer.Kernels.Transformer.RowCollectives;

namespace Wafer.Kernels.Transformer;

internal static class AttentionSteps
{
    /// <summary>Key block j (n keys of the group's row j) of a [feature][key] buffer: k rows of n, KeysMax apart.</summary>
    public static Dsd KeyBlock(LayerGrid g, Buf b, int j) =>
        Dsd.Mem4D(b.Address + 4 * j * g.N, [g.N, g.K], [1, g.KeysMax]);

    /// <summary>Gathers the K and V of rows r0 .. r into Keys / Values ([f][key], key = position in the group).</summary>
    public static void Gather(TaskContext ctx, LayerGrid g, LayerMemory m)
    {
        int n = g.N, k = g.K, r = ctx.Y - 1;
        var kv = Dsd.Mem1D(m.Qkv.Address + 4 * k * n, 2 * k * n); // K then V, contiguous in the qkv block
        if (g.GroupRows == 1)
        {
            ctx.Fmovs(Dsd.Mem1D(m.Keys.Address, k * n), Dsd.Mem1D(m.Qkv.Address + 4 * k * n, k * n));
            ctx.Fmovs(Dsd.Mem1D(m.Values.Address, k * n), Dsd.Mem1D(m.Qkv.Address + 8 * k * n, k * n));
            return;
        }
        var own = r - g.GroupStart(r);
        var input = Dsd.FabIn(KvDown, k * n, KvIn);
        for (var j = 0; j < own; j++)
        {
            ctx.Fmovs(KeyBlock(g, m.Keys, j), input);
            ctx.Fmovs(KeyBlock(g, m.Values, j), input);
        }
        ctx.Fmovs(Dsd.FabOut(KvDown, 2 * k * n, KvOut), kv, Completion.Nothing);
        ctx.Fmovs(KeyBlock(g, m.Keys, own), input);
        ctx.Fmovs(KeyBlock(g, m.Values, own), input);
    }

    /// <summary>S^T[key][query] = sum over slice s's features of K[f][key] Q[f][query], summed over the head group,
    /// scaled by 1/sqrt(hs), the own block masked. Rows 0 .. keys - 1 of Scores.</summary>
    public static void Scores(TaskContext ctx, LayerGrid g, LayerMemory m, int s, int keys)
    {
        int n = g.N, w = g.SliceWidth, f0 = s * w;
        for (var key = 0; key < keys; key++)
        {
            var row = m.Scores.Row(key, n);
            ctx.Fmuls(row, m.Qkv.Row(f0, n), Operand.Mem(m.Keys.At(f0 * g.KeysMax + key)));
            for (var f = f0 + 1; f < f0 + w; f++) ctx.Fmacs(row, row, m.Qkv.Row(f, n), ScalarOperand.Mem(m.Keys.At(f * g.KeysMax + key)));
        }
        var all = Dsd.Mem1D(m.Scores.Address, keys * n);
        GroupAllReduce(ctx, g, all, keys * n);
        ctx.Fmuls(all, all, 1f / MathF.Sqrt(g.HeadSize));
        var ownBlock = Dsd.Mem1D(m.Scores.Address + 4 * (keys - n) * n, n * n);
        ctx.Fadds(ownBlock, ownBlock, Dsd.Mem1D(m.Mask.Address, n * n));
    }

    /// <summary>Scalar code: values[0 .. count) = exp(values), charged per value.</summary>
    public static void Exp(TaskContext ctx, Buf b, int count)
    {
        for (var i = 0; i < count; i++) ctx.StoreF32(b.At(i), MathF.Exp(ctx.LoadF32(b.At(i))));
        ctx.Scalar(count * ScalarMath.ExpCycles);
    }
}

/// <summary>atty = softmax(Q K^T / sqrt(hs) + causal mask) V for every head; Lse keeps each query's log-sum-exp per slice.</summary>
public sealed class AttentionForward : LayerPhase
{
    private readonly LayerGrid _g;
    private readonly LayerMemory _m;
    private readonly Action<TaskContext>[] _afterExp;
    private readonly Action<TaskContext>[] _afterSum;
    private readonly Action<TaskContext>[] _slice;

    public AttentionForward(string name, LayerGrid g, LayerMemory m) : base(name)
    {
        (_g, _m) = (g, m);
        _slice = Enumerable.Range(0, g.Slices).Select(s => (Action<TaskContext>)(ctx => Slice(ctx, s))).ToArray();
        _afterExp = Enumerable.Range(0, g.Slices).Select(s => (Action<TaskContext>)(ctx => AfterExp(ctx, s))).ToArray();
        _afterSum = Enumerable.Range(0, g.Slices).Select(s => (Action<TaskContext>)(ctx => AfterSum(ctx, s))).ToArray();
    }

    public override void Start(TaskContext ctx)
    {
        if (ctx.Y == 0) return;
        AttentionSteps.Gather(ctx, _g, _m);
        ctx.Then(_slice[0]);
    }

    private int Keys(TaskContext ctx) => _g.VisibleKeys(ctx.Y - 1);

    private void Slice(TaskContext ctx, int s)
    {
        int n = _g.N, keys = Keys(ctx);
        AttentionSteps.Scores(ctx, _g, _m, s, keys);
        var max = _m.Temp.Row(0, n);
        ctx.Fmovs(max, _m.Scores.Row(0, n));
        for (var key = 1; key < keys; key++) ctx.Fmaxs(max, max, _m.Scores.Row(key, n));
        for (var key = 0; key < keys; key++) ctx.Fsubs(_m.Scores.Row(key, n), _m.Scores.Row(key, n), max);
        ctx.Then(_afterExp[s]);
    }

    private void AfterExp(TaskContext ctx, int s)
    {
        int n = _g.N, keys = Keys(ctx);
        AttentionSteps.Exp(ctx, _m.Scores, keys * n);
        var sum = _m.Temp.Row(1, n);
        ctx.Fmovs(sum, _m.Scores.Row(0, n));
        for (var key = 1; key < keys; key++) ctx.Fadds(sum, sum, _m.Scores.Row(key, n));
        ctx.Then(_afterSum[s]);
    }

    private void AfterSum(TaskContext ctx, int s)
    {
        int n = _g.N, keys = Keys(ctx), w = _g.SliceWidth, f0 = s * w;
        Buf temp = _m.Temp, lse = _m.Lse;
        for (var t = 0; t < n; t++)
        {
            var sum = ctx.LoadF32(temp.At(n + t));
            ctx.StoreF32(lse.At(s * n + t), ctx.LoadF32(temp.At(t)) + MathF.Log(sum));
            ctx.StoreF32(temp.At(2 * n + t), 1f / sum);
        }
        ctx.Scalar(n * (LogCycles + ScalarMath.ReciprocalCycles + 1));
        var inv = temp.Row(2, n);
        for (var key = 0; key < keys; key++) ctx.Fmuls(_m.Scores.Row(key, n), _m.Scores.Row(key, n), inv);
        for (var f = f0; f < f0 + w; f++)
        {
            var o = _m.Att.Row(f, n);
            ctx.Fmuls(o, _m.Scores.Row(0, n), Operand.Mem(_m.Values.At(f * _g.KeysMax)));
            for (var key = 1; key < keys; key++) ctx.Fmacs(o, o, _m.Scores.Row(key, n), ScalarOperand.Mem(_m.Values.At(f * _g.KeysMax + key)));
        }
        if (s + 1 < _g.Slices) ctx.Then(_slice[s + 1]);
    }

    /// <summary>ln(x) in scalar code: range reduction and a short polynomial, like exp. Our choice.</summary>
    public const int LogCycles = ScalarMath.ExpCycles;
}

/// <summary>From dO (the attention output's gradient) to dQKV: probabilities recomputed from the saved log-sum-exp,
/// dP = dO V^T (summed over the head group with the row sums D = dO . O), dS = P (dP - D) / sqrt(hs), dQ = dS K,
/// dK = dS^T Q and dV = P^T dO for every visible key; the parts for earlier rows' keys go up the column to their rows.</summary>
public sealed class AttentionBackward : LayerPhase
{
    private readonly LayerGrid _g;
    private readonly LayerMemory _m;
    private readonly Buf _dOut;
    private readonly Action<TaskContext>[] _slice, _afterExp;
    private readonly Action<TaskContext> _reduce;

    public AttentionBackward(string name, LayerGrid g, LayerMemory m, Buf dOut) : base(name)
    {
        (_g, _m, _dOut) = (g, m, dOut);
        _slice = Enumerable.Range(0, g.Slices).Select(s => (Action<TaskContext>)(ctx => Slice(ctx, s))).ToArray();
        _afterExp = Enumerable.Range(0, g.Slices).Select(s => (Action<TaskContext>)(ctx => AfterExp(ctx, s))).ToArray();
        _reduce = Reduce;
    }

    public override void Start(TaskContext ctx)
    {
        if (ctx.Y == 0) return;
        AttentionSteps.Gather(ctx, _g, _m);
        ctx.Then(_slice[0]);
    }

    private int Keys(TaskContext ctx) => _g.VisibleKeys(ctx.Y - 1);

    private void Slice(TaskContext ctx, int s)
    {
        int n = _g.N, keys = Keys(ctx);
        AttentionSteps.Scores(ctx, _g, _m, s, keys);
        var lse = _m.Lse.Row(s, n);
        for (var key = 0; key < keys; key++) ctx.Fsubs(_m.Scores.Row(key, n), _m.Scores.Row(key, n), lse);
        ctx.Then(_afterExp[s]);
    }

    private void AfterExp(TaskContext ctx, int s)
    {
        int n = _g.N, keys = Keys(ctx), w = _g.SliceWidth, f0 = s * w, km = _g.KeysMax;
        AttentionSteps.Exp(ctx, _m.Scores, keys * n); // P^T
        Buf dp = _m.DScores, p = _m.Scores;
        for (var key = 0; key < keys; key++)
        {
            var row = dp.Row(key, n);
            ctx.Fmuls(row, _dOut.Row(f0, n), Operand.Mem(_m.Values.At(f0 * km + key)));
            for (var f = f0 + 1; f < f0 + w; f++) ctx.Fmacs(row, row, _dOut.Row(f, n), ScalarOperand.Mem(_m.Values.At(f * km + key)));
        }
        var d = dp.Row(keys, n);
        var tmp = _m.Temp.Row(0, n);
        ctx.Fmuls(d, _dOut.Row(f0, n), _m.Att.Row(f0, n));
        for (var f = f0 + 1; f < f0 + w; f++)
        {
            ctx.Fmuls(tmp, _dOut.Row(f, n), _m.Att.Row(f, n));
            ctx.Fadds(d, d, tmp);
        }
        GroupAllReduce(ctx, _g, Dsd.Mem1D(dp.Address, (keys + 1) * n), (keys + 1) * n);
        for (var key = 0; key < keys; key++)
        {
            ctx.Fsubs(dp.Row(key, n), dp.Row(key, n), d);
            ctx.Fmuls(dp.Row(key, n), dp.Row(key, n), p.Row(key, n));
        }
        var all = Dsd.Mem1D(dp.Address, keys * n);
        ctx.Fmuls(all, all, 1f / MathF.Sqrt(_g.HeadSize));
        for (var f = f0; f < f0 + w; f++)
        {
            // dQ first (it reads K), then dK over K's row in place; dV over V's row (V was last read by dP above).
            var dq = _m.DQkv.Row(f, n);
            ctx.Fmuls(dq, dp.Row(0, n), Operand.Mem(_m.Keys.At(f * km)));
            for (var key = 1; key < keys; key++) ctx.Fmacs(dq, dq, dp.Row(key, n), ScalarOperand.Mem(_m.Keys.At(f * km + key)));
            var dk = Dsd.Mem1D(_m.Keys.At(f * km), keys);
            var dv = Dsd.Mem1D(_m.Values.At(f * km), keys);
            ctx.Fmuls(dk, Column(dp, 0, keys, n), Operand.Mem(_m.Qkv.At(f * n)));
            ctx.Fmuls(dv, Column(p, 0, keys, n), Operand.Mem(_dOut.At(f * n)));
            for (var t = 1; t < n; t++)
            {
                ctx.Fmacs(dk, dk, Column(dp, t, keys, n), ScalarOperand.Mem(_m.Qkv.At(f * n + t)));
                ctx.Fmacs(dv, dv, Column(p, t, keys, n), ScalarOperand.Mem(_dOut.At(f * n + t)));
            }
        }
        ctx.Then(s + 1 < _g.Slices ? _slice[s + 1] : _reduce);
    }

    /// <summary>dK and dV of earlier rows' keys up the column (each row adds its part and keeps its own block's total),
    /// then the own block's dK and dV into dQKV.</summary>
    private void Reduce(TaskContext ctx)
    {
        int n = _g.N, k = _g.K, r = ctx.Y - 1, y = ctx.Y;
        var own = r - _g.GroupStart(r);
        var last = own == _g.GroupRows - 1;
        if (_g.GroupRows > 1)
        {
            var up = Dsd.FabOut(NorthColor(y), k * n, NorthOut);
            var below = Dsd.FabIn(NorthColor(y + 1), k * n, NorthIn);
            for (var j = 0; j < own; j++)
                foreach (var b in new[] { _m.Keys, _m.Values })
                {
                    var block = AttentionSteps.KeyBlock(_g, b, j);
                    if (last) ctx.Fmovs(up, block);
                    else ctx.Fadds(up, below, block);
                }
            if (!last)
                foreach (var b in new[] { _m.Keys, _m.Values })
                {
                    var block = AttentionSteps.KeyBlock(_g, b, own);
                    ctx.Fadds(block, below, block);
                }
        }
        ctx.Fmovs(Dsd.Mem1D(_m.DQkv.Address + 4 * k * n, k * n), AttentionSteps.KeyBlock(_g, _m.Keys, own));
        ctx.Fmovs(Dsd.Mem1D(_m.DQkv.Address + 8 * k * n, k * n), AttentionSteps.KeyBlock(_g, _m.Values, own));
    }
}

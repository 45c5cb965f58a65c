// Multi-head causal self-attention on the block layout, forward and backward, every head at once, one key block at a
// time (FlashAttention's order: nothing of size T is kept on a PE). Column x holds q, k and v for its k features; a
// head's hs features lie in one column (k / hs heads there) or span a head group of hs / k columns, whose partial
// scores are summed by a head-group allreduce. Row r holds n queries; the keys it sees are the n-key blocks of rows
// r0 .. r of its sequence group. They reach it by the K/V multicast down the column: each row, in its turn, sends its
// K and V block to the rows below it in the group (and, by loopback, to itself), after it has taken the blocks of the
// rows above, and every row works through the blocks as they arrive. Scores are kept transposed, S^T[key][query], so
// every reduction over keys is elementwise over n-query vectors. The forward keeps a running max m and sum l per query
// (an online softmax: on each block, m' = max(m, scores), the old sum and output scaled by e^(m - m')), and leaves the
// log-sum-exp m + ln l for the backward, which recomputes each block's probabilities from it, sums dQ over the blocks,
// and sends each block's dK and dV up the column, every row adding its part, to the row that owns the block.
using Wafer.Fabric.Pe;
using Wafer.Kernels.Layers;
using static Wafer.Kernels.Transformer.LayerColors;
using static Wafer.Kernels.Transformer.RowCollectives;

namespace Wafer.Kernels.Transformer;

internal static class AttentionSteps
{
    /// <summary>Counters in the arena: the key block in progress and the head slice.</summary>
    public const int BlockCounter = 0, SliceCounter = 1;

    /// <summary>The row's position in its sequence group (the number of key blocks before its own).</summary>
    public static int Own(LayerGrid g, TaskContext ctx) => ctx.Y - 1 - g.GroupStart(ctx.Y - 1);

    /// <summary>Key block j into KeyBlock / ValueBlock: off the K/V multicast for an earlier row's block; the own block
    /// is sent down the group first (a microthread) and read back by loopback (one row alone: copied from qkv).</summary>
    public static void Receive(TaskContext ctx, LayerGrid g, LayerMemory m, int j)
    {
        int kn = g.K * g.N, own = Own(g, ctx);
        Dsd kb = Dsd.Mem1D(m.KeyBlock.Address, kn), vb = Dsd.Mem1D(m.ValueBlock.Address, kn);
        if (g.GroupRows == 1)
        {
            ctx.Fmovs(kb, Dsd.Mem1D(m.Qkv.Address + 4 * kn, kn));
            ctx.Fmovs(vb, Dsd.Mem1D(m.Qkv.Address + 8 * kn, kn));
            return;
        }
        var input = Dsd.FabIn(KvDown, kn, KvIn);
        if (j == own) ctx.Fmovs(Dsd.FabOut(KvDown, 2 * kn, KvOut), Dsd.Mem1D(m.Qkv.Address + 4 * kn, 2 * kn), Completion.Nothing);
        ctx.Fmovs(kb, input);
        ctx.Fmovs(vb, input);
    }

    /// <summary>S^T[key][query] of the key block for slice s: K^T Q over the slice's features, summed over the head
    /// group, scaled by 1/sqrt(hs), masked when it is the row's own block.</summary>
    public static void Scores(TaskContext ctx, LayerGrid g, LayerMemory m, int s, bool ownBlock)
    {
        int n = g.N, w = g.SliceWidth, f0 = s * w;
        for (var key = 0; key < n; key++)
        {
            var row = m.Scores.Row(key, n);
            ctx.Fmuls(row, m.Qkv.Row(f0, n), Operand.Mem(m.KeyBlock.At(f0 * n + key)));
            for (var f = f0 + 1; f < f0 + w; f++) ctx.Fmacs(row, row, m.Qkv.Row(f, n), ScalarOperand.Mem(m.KeyBlock.At(f * n + key)));
        }
        var all = Dsd.Mem1D(m.Scores.Address, n * n);
        GroupAllReduce(ctx, g, all, n * n);
        ctx.Fmuls(all, all, 1f / MathF.Sqrt(g.HeadSize));
        if (ownBlock) ctx.Fadds(all, all, Dsd.Mem1D(m.Mask.Address, n * n));
    }

    /// <summary>Scalar code: values[from .. from + count) = exp(values), charged per value (unless the caller charges).</summary>
    public static void Exp(TaskContext ctx, Buf b, int count, int from = 0, bool charge = true)
    {
        for (var i = from; i < from + count; i++) ctx.StoreF32(b.At(i), MathF.Exp(ctx.LoadF32(b.At(i))));
        if (charge) ctx.Scalar(count * ScalarMath.ExpCycles);
    }

    /// <summary>Adds one to a counter (scalar code, before the step issues anything).</summary>
    public static void Increment(TaskContext ctx, LayerMemory m, int counter)
    {
        var at = m.Counters.At(counter);
        ctx.StoreI32(at, ctx.LoadI32(at) + 1);
    }
}

/// <summary>atty = softmax(Q K^T / sqrt(hs) + causal mask) V for every head; Lse keeps each query's log-sum-exp per slice.</summary>
public sealed class AttentionForward : LayerPhase
{
    private readonly LayerGrid _g;
    private readonly LayerMemory _m;
    private readonly Action<TaskContext> _block, _nextBlock, _nextSlice, _afterExp, _finish;

    public AttentionForward(string name, LayerGrid g, LayerMemory m) : base(name)
    {
        (_g, _m) = (g, m);
        (_block, _afterExp, _finish) = (Block, AfterExp, Finish);
        _nextBlock = ctx => { AttentionSteps.Increment(ctx, _m, AttentionSteps.BlockCounter); Block(ctx); };
        _nextSlice = ctx => { AttentionSteps.Increment(ctx, _m, AttentionSteps.SliceCounter); Slice(ctx); };
    }

    public override void Start(TaskContext ctx)
    {
        if (ctx.Y == 0) return;
        var sn = _g.Slices * _g.N;
        ctx.StoreI32(_m.Counters.At(AttentionSteps.BlockCounter), 0);
        ctx.Fmovs(Dsd.Mem1D(_m.RunMax.Address, sn), LayerProgram.MaskedScore);
        ctx.Fmovs(Dsd.Mem1D(_m.RunSum.Address, sn), 0f);
        ctx.Fmovs(Dsd.Mem1D(_m.Att.Address, _g.K * _g.N), 0f);
        ctx.Then(_block);
    }

    private void Block(TaskContext ctx)
    {
        var j = ctx.LoadI32(_m.Counters.At(AttentionSteps.BlockCounter));
        if (j > AttentionSteps.Own(_g, ctx)) { ctx.Then(_finish); return; }
        ctx.StoreI32(_m.Counters.At(AttentionSteps.SliceCounter), 0);
        AttentionSteps.Receive(ctx, _g, _m, j);
        ctx.Then(Slice);
    }

    private void Slice(TaskContext ctx)
    {
        int n = _g.N, j = ctx.LoadI32(_m.Counters.At(AttentionSteps.BlockCounter)), s = ctx.LoadI32(_m.Counters.At(AttentionSteps.SliceCounter));
        AttentionSteps.Scores(ctx, _g, _m, s, j == AttentionSteps.Own(_g, ctx));
        // The new running max, the scores less it, and the old terms' scale e^(m - m') (its exponent here).
        Dsd max = _m.RunMax.Row(s, n), next = _m.Temp.Row(0, n), scale = _m.Temp.Row(1, n);
        ctx.Fmovs(next, max);
        for (var key = 0; key < n; key++) ctx.Fmaxs(next, next, _m.Scores.Row(key, n));
        for (var key = 0; key < n; key++) ctx.Fsubs(_m.Scores.Row(key, n), _m.Scores.Row(key, n), next);
        ctx.Fsubs(scale, max, next);
        ctx.Fmovs(max, next);
        ctx.Then(_afterExp);
    }

    private void AfterExp(TaskContext ctx)
    {
        int n = _g.N, w = _g.SliceWidth, s = ctx.LoadI32(_m.Counters.At(AttentionSteps.SliceCounter)), f0 = s * w;
        AttentionSteps.Exp(ctx, _m.Scores, n * n, charge: false);
        AttentionSteps.Exp(ctx, _m.Temp, n, from: n, charge: false); // the scale e^(m - m')
        ctx.Scalar((n * n + n) * ScalarMath.ExpCycles);
        Dsd sum = _m.RunSum.Row(s, n), scale = _m.Temp.Row(1, n);
        ctx.Fmuls(sum, sum, scale);
        for (var key = 0; key < n; key++) ctx.Fadds(sum, sum, _m.Scores.Row(key, n));
        for (var f = f0; f < f0 + w; f++)
        {
            var o = _m.Att.Row(f, n);
            ctx.Fmuls(o, o, scale);
            for (var key = 0; key < n; key++) ctx.Fmacs(o, o, _m.Scores.Row(key, n), ScalarOperand.Mem(_m.ValueBlock.At(f * n + key)));
        }
        ctx.Then(s + 1 < _g.Slices ? _nextSlice : _nextBlock);
    }

    /// <summary>O /= l and the log-sum-exp m + ln l, per slice (scalar code for 1/l and ln l).</summary>
    private void Finish(TaskContext ctx)
    {
        int n = _g.N, w = _g.SliceWidth;
        for (var s = 0; s < _g.Slices; s++)
            for (var t = 0; t < n; t++)
            {
                var sum = ctx.LoadF32(_m.RunSum.At(s * n + t));
                ctx.StoreF32(_m.Lse.At(s * n + t), ctx.LoadF32(_m.RunMax.At(s * n + t)) + MathF.Log(sum));
                ctx.StoreF32(_m.RunSum.At(s * n + t), 1f / sum);
            }
        ctx.Scalar(_g.Slices * n * (LogCycles + ScalarMath.ReciprocalCycles + 1));
        for (var s = 0; s < _g.Slices; s++)
            for (var f = s * w; f < (s + 1) * w; f++) ctx.Fmuls(_m.Att.Row(f, n), _m.Att.Row(f, n), _m.RunSum.Row(s, n));
    }

    /// <summary>ln(x) in scalar code: range reduction and a short polynomial, like exp. Our choice.</summary>
    public const int LogCycles = ScalarMath.ExpCycles;
}

/// <summary>From dO (the attention output's gradient) to dQKV, key block by key block: the probabilities recomputed from
/// the saved log-sum-exp, dP = dO V^T (summed over the head group), dS = P (dP - D) / sqrt(hs) with D = dO . O summed
/// once, dQ += dS K, and the block's dK = dS^T Q and dV = P^T dO sent up the column to the block's row.</summary>
public sealed class AttentionBackward : LayerPhase
{
    private readonly LayerGrid _g;
    private readonly LayerMemory _m;
    private readonly Buf _dOut;
    private readonly Action<TaskContext> _block, _slice, _nextSlice, _afterExp, _north;

    public AttentionBackward(string name, LayerGrid g, LayerMemory m, Buf dOut) : base(name)
    {
        (_g, _m, _dOut) = (g, m, dOut);
        (_block, _slice, _afterExp, _north) = (Block, Slice, AfterExp, North);
        _nextSlice = ctx => { AttentionSteps.Increment(ctx, _m, AttentionSteps.SliceCounter); Slice(ctx); };
    }

    public override void Start(TaskContext ctx)
    {
        if (ctx.Y == 0) return;
        int n = _g.N, w = _g.SliceWidth;
        ctx.StoreI32(_m.Counters.At(AttentionSteps.BlockCounter), 0);
        // D = dO . O per query and slice, summed over the head group; dQ starts at zero.
        var tmp = _m.Temp.Row(0, n);
        for (var s = 0; s < _g.Slices; s++)
        {
            var d = _m.RowSums.Row(s, n);
            ctx.Fmuls(d, _dOut.Row(s * w, n), _m.Att.Row(s * w, n));
            for (var f = s * w + 1; f < (s + 1) * w; f++)
            {
                ctx.Fmuls(tmp, _dOut.Row(f, n), _m.Att.Row(f, n));
                ctx.Fadds(d, d, tmp);
            }
        }
        GroupAllReduce(ctx, _g, Dsd.Mem1D(_m.RowSums.Address, _g.Slices * n), _g.Slices * n);
        ctx.Fmovs(Dsd.Mem1D(_m.DQkv.Address, _g.K * n), 0f);
        ctx.Then(_block);
    }

    private void Block(TaskContext ctx)
    {
        var j = ctx.LoadI32(_m.Counters.At(AttentionSteps.BlockCounter));
        if (j > AttentionSteps.Own(_g, ctx)) return;
        ctx.StoreI32(_m.Counters.At(AttentionSteps.SliceCounter), 0);
        AttentionSteps.Receive(ctx, _g, _m, j);
        ctx.Then(_slice);
    }

    private void Slice(TaskContext ctx)
    {
        int n = _g.N, j = ctx.LoadI32(_m.Counters.At(AttentionSteps.BlockCounter)), s = ctx.LoadI32(_m.Counters.At(AttentionSteps.SliceCounter));
        AttentionSteps.Scores(ctx, _g, _m, s, j == AttentionSteps.Own(_g, ctx));
        var lse = _m.Lse.Row(s, n);
        for (var key = 0; key < n; key++) ctx.Fsubs(_m.Scores.Row(key, n), _m.Scores.Row(key, n), lse);
        ctx.Then(_afterExp);
    }

    private void AfterExp(TaskContext ctx)
    {
        int n = _g.N, w = _g.SliceWidth, s = ctx.LoadI32(_m.Counters.At(AttentionSteps.SliceCounter)), f0 = s * w;
        AttentionSteps.Exp(ctx, _m.Scores, n * n); // P^T of the block
        Buf dp = _m.DScores, p = _m.Scores;
        for (var key = 0; key < n; key++)
        {
            var row = dp.Row(key, n);
            ctx.Fmuls(row, _dOut.Row(f0, n), Operand.Mem(_m.ValueBlock.At(f0 * n + key)));
            for (var f = f0 + 1; f < f0 + w; f++) ctx.Fmacs(row, row, _dOut.Row(f, n), ScalarOperand.Mem(_m.ValueBlock.At(f * n + key)));
        }
        GroupAllReduce(ctx, _g, Dsd.Mem1D(dp.Address, n * n), n * n);
        var d = _m.RowSums.Row(s, n);
        for (var key = 0; key < n; key++)
        {
            ctx.Fsubs(dp.Row(key, n), dp.Row(key, n), d);
            ctx.Fmuls(dp.Row(key, n), dp.Row(key, n), p.Row(key, n));
        }
        var all = Dsd.Mem1D(dp.Address, n * n);
        ctx.Fmuls(all, all, 1f / MathF.Sqrt(_g.HeadSize));
        for (var f = f0; f < f0 + w; f++)
        {
            var dq = _m.DQkv.Row(f, n);
            for (var key = 0; key < n; key++) ctx.Fmacs(dq, dq, dp.Row(key, n), ScalarOperand.Mem(_m.KeyBlock.At(f * n + key)));
            Dsd dk = _m.DKeyBlock.Row(f, n), dv = _m.DValueBlock.Row(f, n);
            ctx.Fmuls(dk, Column(dp, 0, n, n), Operand.Mem(_m.Qkv.At(f * n)));
            ctx.Fmuls(dv, Column(p, 0, n, n), Operand.Mem(_dOut.At(f * n)));
            for (var t = 1; t < n; t++)
            {
                ctx.Fmacs(dk, dk, Column(dp, t, n, n), ScalarOperand.Mem(_m.Qkv.At(f * n + t)));
                ctx.Fmacs(dv, dv, Column(p, t, n, n), ScalarOperand.Mem(_dOut.At(f * n + t)));
            }
        }
        ctx.Then(s + 1 < _g.Slices ? _nextSlice : _north);
    }

    /// <summary>The block's dK and dV up the sequence group: rows below the block's own row add their parts on the way
    /// (the last row starts), and the own row adds the sum to its own part, into dQKV's k and v rows.</summary>
    private void North(TaskContext ctx)
    {
        int n = _g.N, kn = _g.K * n, y = ctx.Y, own = AttentionSteps.Own(_g, ctx);
        var counter = _m.Counters.At(AttentionSteps.BlockCounter);
        var j = ctx.LoadI32(counter);
        ctx.StoreI32(counter, j + 1);
        var last = own == _g.GroupRows - 1;
        Dsd dk = Dsd.Mem1D(_m.DKeyBlock.Address, kn), dv = Dsd.Mem1D(_m.DValueBlock.Address, kn);
        Dsd kOut = Dsd.Mem1D(_m.DQkv.Address + 4 * kn, kn), vOut = Dsd.Mem1D(_m.DQkv.Address + 8 * kn, kn);
        var below = last ? default : Dsd.FabIn(NorthColor(y + 1), kn, NorthIn);
        if (j < own)
        {
            var up = Dsd.FabOut(NorthColor(y), kn, NorthOut);
            if (last) { ctx.Fmovs(up, dk); ctx.Fmovs(up, dv); }
            else { ctx.Fadds(up, below, dk); ctx.Fadds(up, below, dv); }
        }
        else if (last) { ctx.Fmovs(kOut, dk); ctx.Fmovs(vOut, dv); }
        else { ctx.Fadds(kOut, below, dk); ctx.Fadds(vOut, below, dv); }
        ctx.Then(_block);
    }
}

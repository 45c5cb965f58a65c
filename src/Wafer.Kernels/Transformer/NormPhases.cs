// LayerNorm over the block layout, forward and backward (the same arithmetic as the host's LayerNorm, llm.c's form):
// a token's C features lie along a row of PEs, so its statistics are row allreduces. The edge streams the column's
// gamma and beta (2k values); the backward sends the column's dgamma and dbeta (2k partial sums, added up the column)
// back out through the edge.
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Kernels.Layers;
using static Wafer.Kernels.Transformer.RowCollectives;

namespace Wafer.Kernels.Transformer;

/// <summary>y = (x - mean) rstd gamma + beta over each token's C features; keeps mean and rstd (n each) for the backward.
/// Two allreduces per token block: the sum, then the sum of squared deviations (no E[x^2] - mean^2 cancellation).</summary>
public sealed class LayerNormForward : LayerPhase
{
    private readonly LayerGrid _g;
    private readonly LayerMemory _m;
    private readonly Buf _x, _y, _mean, _rstd;
    private readonly float[][] _params;
    private readonly double _pace;
    private readonly Action<TaskContext> _normalise;

    /// <summary>gammaBeta(x): column x's 2k values, gamma then beta.</summary>
    public LayerNormForward(string name, LayerGrid g, LayerMemory m, Buf x, Buf y, Buf mean, Buf rstd, Func<int, float[]> gammaBeta, double cyclesPerValue = 0) : base(name)
    {
        (_g, _m, _x, _y, _mean, _rstd, _pace) = (g, m, x, y, mean, rstd, cyclesPerValue);
        _params = Enumerable.Range(0, g.Columns).Select(gammaBeta).ToArray();
        _normalise = Normalise;
    }

    public override void Prepare(Simulator sim)
    {
        for (var x = 0; x < _g.Columns; x++) sim.Host.AttachPort(x, 0, 0, _params[x], 0, _params[x].Length, _pace);
    }

    public override void Start(TaskContext ctx)
    {
        int n = _g.N, k = _g.K;
        if (ctx.Y == 0) { EdgeStream(ctx, 2 * k); return; }
        ctx.Fmovs(Dsd.Mem1D(_m.Params.Address, 2 * k), Dsd.FabIn(LayerColors.Weights, 2 * k, LayerColors.WeightsIn));
        var s = Dsd.Mem1D(_m.Sums.Address, n);
        var total = Dsd.Mem1D(_m.Totals.Address, n);
        var tmp = _m.Temp.Row(0, n);
        ctx.Fmovs(s, _x.Row(0, n));
        for (var f = 1; f < k; f++) ctx.Fadds(s, s, _x.Row(f, n));
        RowAllReduce(ctx, _g, s, total, n);
        var mean = _mean.Row(0, n);
        ctx.Fmuls(mean, total, 1f / _g.Shape.Channels);
        for (var f = 0; f < k; f++) ctx.Fsubs(_y.Row(f, n), _x.Row(f, n), mean);
        ctx.Fmuls(s, _y.Row(0, n), _y.Row(0, n));
        for (var f = 1; f < k; f++)
        {
            ctx.Fmuls(tmp, _y.Row(f, n), _y.Row(f, n));
            ctx.Fadds(s, s, tmp);
        }
        RowAllReduce(ctx, _g, s, total, n);
        ctx.Then(_normalise);
    }

    private void Normalise(TaskContext ctx)
    {
        int n = _g.N, k = _g.K;
        var c = (float)_g.Shape.Channels;
        for (var t = 0; t < n; t++)
            ctx.StoreF32(_rstd.At(t), 1f / MathF.Sqrt(ctx.LoadF32(_m.Totals.At(t)) / c + LayerNormRows.Epsilon));
        ctx.Scalar(n * ScalarMath.RsqrtCycles);
        var rstd = _rstd.Row(0, n);
        for (var f = 0; f < k; f++)
        {
            var y = _y.Row(f, n);
            ctx.Fmuls(y, rstd, y);
            ctx.Fmuls(y, y, Operand.Mem(_m.Params.At(f)));
            ctx.Fadds(y, y, Operand.Mem(_m.Params.At(k + f)));
        }
    }
}

/// <summary>dx += rstd (g - mean(g) - xhat mean(g xhat)) with g = gamma dy and xhat = (x - mean) rstd (two allreduces of
/// n values each, as one of 2n); the column's dgamma = sum_t dy xhat and dbeta = sum_t dy go up the column to the edge.</summary>
public sealed class LayerNormBackward : LayerPhase
{
    private readonly LayerGrid _g;
    private readonly LayerMemory _m;
    private readonly Buf _dy, _x, _mean, _rstd, _dx;
    private readonly float[][] _params;
    private readonly float[][] _grads;
    private readonly double _pace;

    /// <summary>gammaBeta(x): column x's 2k parameters (as the forward); the column's 2k gradients land in Gradients(x).</summary>
    public LayerNormBackward(string name, LayerGrid g, LayerMemory m, Buf dy, Buf x, Buf mean, Buf rstd, Buf dx, Func<int, float[]> gammaBeta, double cyclesPerValue = 0) : base(name)
    {
        (_g, _m, _dy, _x, _mean, _rstd, _dx, _pace) = (g, m, dy, x, mean, rstd, dx, cyclesPerValue);
        _params = Enumerable.Range(0, g.Columns).Select(gammaBeta).ToArray();
        _grads = Enumerable.Range(0, g.Columns).Select(_ => new float[2 * g.K]).ToArray();
    }

    /// <summary>Column x's dgamma (k) then dbeta (k), summed over every token of the region.</summary>
    public float[] Gradients(int x) => _grads[x];

    public override void Prepare(Simulator sim)
    {
        for (var x = 0; x < _g.Columns; x++)
        {
            sim.Host.AttachPort(x, 0, 0, _params[x], 0, _params[x].Length, _pace);
            sim.Host.AttachPort(x, 0, 1, _grads[x], 0, _grads[x].Length, _pace);
        }
    }

    public override void Start(TaskContext ctx)
    {
        int n = _g.N, k = _g.K;
        if (ctx.Y == 0)
        {
            EdgeStream(ctx, 2 * k);
            EdgeCollect(ctx, 2 * k);
            return;
        }
        ctx.Fmovs(Dsd.Mem1D(_m.Params.Address, 2 * k), Dsd.FabIn(LayerColors.Weights, 2 * k, LayerColors.WeightsIn));
        var mean = _mean.Row(0, n);
        var rstd = _rstd.Row(0, n);
        for (var f = 0; f < k; f++)
        {
            var norm = _m.Norm.Row(f, n);
            ctx.Fsubs(norm, _x.Row(f, n), mean);
            ctx.Fmuls(norm, norm, rstd);
            ctx.Fmuls(_m.Scaled.Row(f, n), Operand.Mem(_m.Params.At(f)), _dy.Row(f, n));
        }
        var s1 = Dsd.Mem1D(_m.Sums.Address, n);
        var s2 = Dsd.Mem1D(_m.Sums.Address + 4 * n, n);
        var tmp = _m.Temp.Row(0, n);
        var tmp2 = _m.Temp.Row(1, n);
        ctx.Fmovs(s1, _m.Scaled.Row(0, n));
        ctx.Fmuls(s2, _m.Scaled.Row(0, n), _m.Norm.Row(0, n));
        for (var f = 1; f < k; f++)
        {
            ctx.Fadds(s1, s1, _m.Scaled.Row(f, n));
            ctx.Fmuls(tmp, _m.Scaled.Row(f, n), _m.Norm.Row(f, n));
            ctx.Fadds(s2, s2, tmp);
        }
        var totals = Dsd.Mem1D(_m.Totals.Address, 2 * n);
        RowAllReduce(ctx, _g, Dsd.Mem1D(_m.Sums.Address, 2 * n), totals, 2 * n);
        ctx.Fmuls(totals, totals, 1f / _g.Shape.Channels);
        var m1 = Dsd.Mem1D(_m.Totals.Address, n);
        var m2 = Dsd.Mem1D(_m.Totals.Address + 4 * n, n);
        for (var f = 0; f < k; f++)
        {
            ctx.Fsubs(tmp, _m.Scaled.Row(f, n), m1);
            ctx.Fmuls(tmp2, _m.Norm.Row(f, n), m2);
            ctx.Fsubs(tmp, tmp, tmp2);
            ctx.Fmuls(tmp, tmp, rstd);
            ctx.Fadds(_dx.Row(f, n), _dx.Row(f, n), tmp);
        }
        // dgamma and dbeta over this PE's tokens: products per feature, then summed over tokens as strided vectors over
        // the k features (no dot-product instruction), then up the column.
        for (var f = 0; f < k; f++) ctx.Fmuls(_m.Norm.Row(f, n), _m.Norm.Row(f, n), _dy.Row(f, n));
        var dgamma = Dsd.Mem1D(_m.WeightPartial.Address, k);
        var dbeta = Dsd.Mem1D(_m.WeightPartial.Address + 4 * k, k);
        ctx.Fmovs(dgamma, Column(_m.Norm, 0, k, n));
        ctx.Fmovs(dbeta, Column(_dy, 0, k, n));
        for (var t = 1; t < n; t++)
        {
            ctx.Fadds(dgamma, dgamma, Column(_m.Norm, t, k, n));
            ctx.Fadds(dbeta, dbeta, Column(_dy, t, k, n));
        }
        ColumnSum(ctx, _g, Dsd.Mem1D(_m.WeightPartial.Address, 2 * k), 2 * k);
    }
}

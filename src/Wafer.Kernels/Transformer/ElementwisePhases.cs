// Elementwise phases on each PE's own block, no fabric: GELU (GPT-2's tanh form) forward and backward, a copy. The
// polynomial parts are vector ops; tanh is scalar code (no vector tanh in the WSE-2 ISA), charged per value from
// ScalarMath as the layer kernels do.
using Wafer.Fabric.Pe;
using Wafer.Kernels.Layers;

namespace Wafer.Kernels.Transformer;

public sealed class GeluForward : LayerPhase
{
    internal static readonly float S = MathF.Sqrt(2f / MathF.PI);
    internal const float Cubic = 0.044715f;
    private readonly LayerGrid _g;
    private readonly Buf _x, _y;
    private readonly Action<TaskContext> _finish;

    /// <summary>y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) over the F-wide block (kf rows).</summary>
    public GeluForward(string name, LayerGrid g, Buf x, Buf y) : base(name)
    {
        (_g, _x, _y) = (g, x, y);
        _finish = Finish;
    }

    public override void Start(TaskContext ctx)
    {
        if (ctx.Y == 0) return;
        var len = _g.Kf * _g.N;
        Dsd x = Dsd.Mem1D(_x.Address, len), y = Dsd.Mem1D(_y.Address, len);
        ctx.Fmuls(y, x, Cubic);
        ctx.Fmuls(y, y, x);
        ctx.Fmuls(y, y, x);
        ctx.Fadds(y, x, y);
        ctx.Fmuls(y, y, S);
        ctx.Then(_finish);
    }

    private void Finish(TaskContext ctx)
    {
        var len = _g.Kf * _g.N;
        for (var i = 0; i < len; i++) ctx.StoreF32(_y.At(i), MathF.Tanh(ctx.LoadF32(_y.At(i))));
        ctx.Scalar(len * ScalarMath.TanhCycles);
        Dsd x = Dsd.Mem1D(_x.Address, len), y = Dsd.Mem1D(_y.Address, len);
        ctx.Fadds(y, y, 1f);
        ctx.Fmuls(y, y, x);
        ctx.Fmuls(y, y, 0.5f);
    }
}

/// <summary>dh *= gelu'(x) = 0.5 (1 + th) + 0.5 x (1 - th^2) sqrt(2/pi) (1 + 3 0.044715 x^2), th the forward's tanh.</summary>
public sealed class GeluBackward : LayerPhase
{
    private readonly LayerGrid _g;
    private readonly LayerMemory _m;
    private readonly Buf _x, _dh;
    private readonly Action<TaskContext> _finish;

    public GeluBackward(string name, LayerGrid g, LayerMemory m, Buf x, Buf dh) : base(name)
    {
        (_g, _m, _x, _dh) = (g, m, x, dh);
        _finish = Finish;
    }

    public override void Start(TaskContext ctx)
    {
        if (ctx.Y == 0) return;
        // Row by row through the temporary block (kf rows of n: the tanh argument, then the slope).
        var n = _g.N;
        for (var f = 0; f < _g.Kf; f++)
        {
            Dsd x = _x.Row(f, n), u = _m.Temp.Row(f, n);
            ctx.Fmuls(u, x, GeluForward.Cubic);
            ctx.Fmuls(u, u, x);
            ctx.Fmuls(u, u, x);
            ctx.Fadds(u, x, u);
            ctx.Fmuls(u, u, GeluForward.S);
        }
        ctx.Then(_finish);
    }

    private void Finish(TaskContext ctx)
    {
        int n = _g.N, len = _g.Kf * n;
        var temp = _m.Temp;
        for (var i = 0; i < len; i++)
        {
            // The slope in scalar code: it shares the tanh, and its remaining terms cost as much as vector ops would here.
            var x = ctx.LoadF32(_x.At(i));
            var th = MathF.Tanh(ctx.LoadF32(temp.At(i)));
            var slope = 0.5f * (1f + th) + 0.5f * x * (1f - th * th) * GeluForward.S * (1f + 3f * GeluForward.Cubic * x * x);
            ctx.StoreF32(temp.At(i), slope);
        }
        ctx.Scalar(len * (ScalarMath.TanhCycles + GeluSlopeCycles));
        ctx.Fmuls(Dsd.Mem1D(_dh.Address, len), Dsd.Mem1D(_dh.Address, len), Dsd.Mem1D(temp.Address, len));
    }

    /// <summary>The slope's terms after the tanh: 9 multiplies and 3 adds on the scalar pipeline. Our count.</summary>
    public const int GeluSlopeCycles = 12;
}

/// <summary>dst = src (or dst += src), `floats` values of each PE's block.</summary>
public sealed class CopyPhase(string name, Buf src, Buf dst, int floats, bool add = false) : LayerPhase(name)
{
    public override void Start(TaskContext ctx)
    {
        if (ctx.Y == 0) return;
        Dsd s = Dsd.Mem1D(src.Address, floats), d = Dsd.Mem1D(dst.Address, floats);
        if (add) ctx.Fadds(d, d, s);
        else ctx.Fmovs(d, s);
    }
}

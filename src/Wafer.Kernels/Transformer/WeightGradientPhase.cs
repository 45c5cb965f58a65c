// The weight gradient of a product, streamed out: dW[o, i] = sum over tokens of dY[o] X[i] (and db[o] = sum of dY[o]).
// Output after output, the owner of dY[o] multicasts its n values along the row (east and west, with loopback); every
// PE forms the partial sums of its column's input features over its n tokens (FMACs over the strided columns of its
// input block, one per token, the row of ones under the block giving the bias's sum), and the column adds them up to
// the edge PE, which sends the column's dW[o, x kin ..] (and db[o] on the owner's column) to MemoryX through its port.
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using static Wafer.Kernels.Transformer.LayerColors;
using static Wafer.Kernels.Transformer.RowCollectives;

namespace Wafer.Kernels.Transformer;

public sealed class WeightGradientPhase : LayerPhase
{
    private readonly LayerGrid _g;
    private readonly LayerMemory _m;
    private readonly Buf _x, _dy;
    private readonly int _kin;
    private readonly OutputMap _map;
    private readonly bool _bias;
    private readonly float[][] _grads;
    private readonly double _pace;
    private readonly Action<TaskContext> _step;

    /// <summary>x: the product's input (kin rows, then a row of ones when bias); dy: the output gradient in the map's layout.</summary>
    public WeightGradientPhase(string name, LayerGrid g, LayerMemory m, Buf x, int kin, Buf dy, OutputMap map, bool bias, double cyclesPerValue = 0) : base(name)
    {
        (_g, _m, _x, _kin, _dy, _map, _bias, _pace) = (g, m, x, kin, dy, map, bias, cyclesPerValue);
        _grads = Enumerable.Range(0, g.Columns).Select(c => new float[Enumerable.Range(0, map.Count).Sum(i => kin + (bias && map.Owner[i] == c ? 1 : 0))]).ToArray();
        _step = Step;
    }

    /// <summary>Column x's gradients in stream order: for each output, its kin input rows, then its bias on the owner's column.</summary>
    public float[] Gradients(int x) => _grads[x];

    public override void Prepare(Simulator sim)
    {
        for (var x = 0; x < _g.Columns; x++) sim.Host.AttachPort(x, 0, 1, _grads[x], 0, _grads[x].Length, _pace);
    }

    public override void Start(TaskContext ctx)
    {
        if (ctx.Y == 0) { EdgeCollect(ctx, _grads[ctx.X].Length); return; }
        ctx.StoreI32(_m.Counters.At(0), 0);
        ctx.Then(_step);
    }

    private void Step(TaskContext ctx)
    {
        var counter = _m.Counters.At(0);
        var i = ctx.LoadI32(counter);
        if (i == _map.Count) return;
        ctx.StoreI32(counter, i + 1);
        int x = ctx.X, n = _g.N, cc = _g.Columns, owner = _map.Owner[i];
        var mine = owner == x;
        var own = _dy.Row(_map.Slot[i], n);
        var received = Dsd.Mem1D(_m.Received.Address, n);
        var d = mine ? own : received;
        if (cc > 1)
        {
            if (mine)
            {
                // Both multicasts leave on microthreads; the main thread drains the loopbacks (this PE's own copies).
                if (x < cc - 1) ctx.Fmovs(Dsd.FabOut(EastCast, n, EastCastOut), own, Completion.Nothing);
                if (x > 0) ctx.Fmovs(Dsd.FabOut(WestCast, n, WestCastOut), own, Completion.Nothing);
                if (x < cc - 1) ctx.Fmovs(received, Dsd.FabIn(EastCast, n, EastCastIn));
                if (x > 0) ctx.Fmovs(received, Dsd.FabIn(WestCast, n, WestCastIn));
            }
            else if (x > owner) ctx.Fmovs(received, Dsd.FabIn(EastCast, n, EastCastIn));
            else ctx.Fmovs(received, Dsd.FabIn(WestCast, n, WestCastIn));
        }
        var rows = _kin + (_bias && mine ? 1 : 0);
        var wp = Dsd.Mem1D(_m.WeightPartial.Address, rows);
        ctx.Fmuls(wp, Column(_x, 0, rows, n), Operand.Mem(d.BaseAddress));
        for (var t = 1; t < n; t++) ctx.Fmacs(wp, wp, Column(_x, t, rows, n), ScalarOperand.Mem(d.BaseAddress + 4 * t));
        ColumnSum(ctx, _g, wp, rows);
        ctx.Then(_step);
    }
}

// A weight-streaming product on the layer program's region: Y[o] = sum_i X[i] W[o, i] (+ b[o]) (+ residual[o]) for
// every output o, Y landing in the block layout (each output row on its owner column). The edge PE of column x streams,
// output after output, the weights of column x's input features (and the bias to the owner's column); each worker
// takes them off the column multicast, forms its n partial sums with one FMAC per input feature (@fmuls, then @fmacs
// with the weight as scalar), and the row reduces the partial sums into the owner: columns west of it chain east
// (fabin + partial -> fabout), columns east of it chain west, and the owner adds both streams, its own partial, the bias
// and the residual. The backward input gradient dX = dY W is the same phase with the transposed weights.
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using static Wafer.Kernels.Transformer.LayerColors;

namespace Wafer.Kernels.Transformer;

/// <summary>Outputs in stream order: Owner[i] the column that keeps output i, Slot[i] its row in that column's output block.</summary>
public sealed record OutputMap(int[] Owner, int[] Slot)
{
    public int Count => Owner.Length;

    /// <summary>A width-D tensor in plain block layout: output o on column o / (D / Cc), row o % (D / Cc).</summary>
    public static OutputMap Block(int width, int columns)
    {
        var rows = width / columns;
        return new(Enumerable.Range(0, width).Select(o => o / rows).ToArray(), Enumerable.Range(0, width).Select(o => o % rows).ToArray());
    }

    /// <summary>qkv (3C): output p C + f (part p = q, k, v) on column f / k, row p k + f % k: a column holds the same
    /// features of q, k and v, so attention needs no re-layout across columns.</summary>
    public static OutputMap Qkv(int channels, int columns)
    {
        var k = channels / columns;
        return new(Enumerable.Range(0, 3 * channels).Select(o => o % channels / k).ToArray(),
                   Enumerable.Range(0, 3 * channels).Select(o => o / channels * k + o % channels % k).ToArray());
    }

    /// <summary>qkv for a block shape: as Qkv(C, Cc), and with rotary halves (NeoX's rotate_half, pairs (i, i + D/2))
    /// q's and k's rotating features reordered within each head so that pair i sits at head positions 2i and 2i + 1,
    /// as GPT-J's interleaved pairs do. Scores are dot products over a head's features, unchanged when q and k share the
    /// order; v keeps the plain order, so the attention's output does too. A column then holds both features of every
    /// pair it holds whenever it holds an even number of features (LayerGrid.Validate).</summary>
    public static OutputMap Qkv(LayerShape shape, int columns)
    {
        var plain = Qkv(shape.Channels, columns);
        int d = shape.RotaryDims, c = shape.Channels, hs = shape.HeadSize, k = c / columns;
        if (d == 0 || shape.RotaryInterleaved) return plain;
        var owner = new int[3 * c];
        var slot = new int[3 * c];
        for (var o = 0; o < 3 * c; o++)
        {
            int part = o / c, f = o % c, within = f % hs;
            var position = part < 2 && within < d ? f - within + (within < d / 2 ? 2 * within : 2 * (within - d / 2) + 1) : f;
            owner[o] = position / k;
            slot[o] = part * k + position % k;
        }
        return new(owner, slot);
    }

    /// <summary>Column x's row `row` as an output index (inverse of the map).</summary>
    public int OutputAt(int x, int row)
    {
        for (var i = 0; i < Owner.Length; i++) if (Owner[i] == x && Slot[i] == row) return i;
        throw new ArgumentException($"no output on column {x} row {row}");
    }
}

public sealed class ProductPhase : LayerPhase
{
    private readonly LayerGrid _g;
    private readonly LayerMemory _m;
    private readonly Buf _input, _output;
    private readonly Buf? _residual;
    private readonly int _kin;
    private readonly OutputMap _map;
    private readonly bool _bias;
    private readonly float[][] _streams;
    private readonly double _cyclesPerValue;
    private readonly Action<TaskContext> _step;

    private readonly bool _fp16;

    /// <summary>weight(i, x, f): the weight of stream position i for column x's input row f; bias(i): output i's bias
    /// (null: none). cyclesPerValue paces each column's MemoryX port (0: unpaced). fp16: the production mapping's
    /// product: the input block converted to fp16 (@fs2h), weights and bias streamed in fp16 (one per wavelet), the
    /// partial sums accumulated in fp32 by @fmachs; reductions, residual and output stay fp32.</summary>
    public ProductPhase(string name, LayerGrid g, LayerMemory m, Buf input, int kin, Buf output, OutputMap map,
        Func<int, int, int, float> weight, Func<int, float>? bias = null, Buf? residual = null, double cyclesPerValue = 0, bool fp16 = false) : base(name)
    {
        (_g, _m, _input, _kin, _output, _map, _bias, _residual, _cyclesPerValue, _fp16) = (g, m, input, kin, output, map, bias is not null, residual, cyclesPerValue, fp16);
        if (fp16)
        {
            var inner = weight;
            var innerBias = bias;
            weight = (i, x, f) => (float)(Half)inner(i, x, f);
            if (innerBias is not null) bias = i => (float)(Half)innerBias(i);
        }
        _streams = new float[g.Columns][];
        for (var x = 0; x < g.Columns; x++)
        {
            var s = new List<float>(map.Count * (kin + 1));
            for (var i = 0; i < map.Count; i++)
            {
                for (var f = 0; f < kin; f++) s.Add(weight(i, x, f));
                if (bias is not null && map.Owner[i] == x) s.Add(bias(i));
            }
            _streams[x] = s.ToArray();
        }
        _step = Step;
    }

    /// <summary>Values column x's port streams in this phase.</summary>
    public int StreamLength(int x) => _streams[x].Length;

    public override void Prepare(Simulator sim)
    {
        for (var x = 0; x < _g.Columns; x++) sim.Host.AttachPort(x, 0, 0, _streams[x], 0, _streams[x].Length, _cyclesPerValue);
    }

    public override void Start(TaskContext ctx)
    {
        if (ctx.Y == 0)
        {
            var total = _streams[ctx.X].Length;
            if (total == 0) return;
            if (_fp16) ctx.Fmovh(Dsd.FabOut(Weights, total, EdgeWeightsOut), Dsd.Port(0, total));
            else ctx.Fmovs(Dsd.FabOut(Weights, total, EdgeWeightsOut), Dsd.Port(0, total));
            return;
        }
        ctx.StoreI32(_m.Counters.At(0), 0);
        if (_fp16) ctx.Fs2h(Dsd.Mem1D(_m.Half16.Address, _kin * _g.N), Dsd.Mem1D(_input.Address, _kin * _g.N));
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
        var received = _kin + (mine && _bias ? 1 : 0);
        var wb = _m.Wb;
        var p = Dsd.Mem1D(_m.Partial.Address, n);
        if (_fp16)
        {
            var wb16 = _m.Wb16.Address;
            ctx.Fmovh(Dsd.Mem1D(wb16, received), Dsd.FabIn(Weights, received, WeightsIn));
            ctx.Fmovs(p, 0f);
            for (var f = 0; f < _kin; f++) ctx.Fmachs(p, p, Dsd.Mem1D(_m.Half16.Address + 2 * f * n, n), ScalarOperand.Mem(wb16 + 2 * f));
        }
        else
        {
            ctx.Fmovs(Dsd.Mem1D(wb.Address, received), Dsd.FabIn(Weights, received, WeightsIn));
            ctx.Fmuls(p, _input.Row(0, n), Operand.Mem(wb.At(0)));
            for (var f = 1; f < _kin; f++) ctx.Fmacs(p, p, _input.Row(f, n), ScalarOperand.Mem(wb.At(f)));
        }
        if (x < owner)
        {
            var dst = Dsd.FabOut(EastColor(x), n, EastOut);
            if (x == 0) ctx.Fmovs(dst, p);
            else ctx.Fadds(dst, Dsd.FabIn(EastColor(x - 1), n, EastIn), p);
        }
        else if (x > owner)
        {
            var dst = Dsd.FabOut(WestColor(x), n, WestOut);
            if (x == cc - 1) ctx.Fmovs(dst, p);
            else ctx.Fadds(dst, Dsd.FabIn(WestColor(x + 1), n, WestIn), p);
        }
        else
        {
            var y = _output.Row(_map.Slot[i], n);
            bool fromWest = x > 0, fromEast = x < cc - 1;
            Dsd east = fromWest ? Dsd.FabIn(EastColor(x - 1), n, EastIn) : default, west = fromEast ? Dsd.FabIn(WestColor(x + 1), n, WestIn) : default;
            if (fromWest && fromEast)
            {
                ctx.Fadds(y, east, west);
                ctx.Fadds(y, y, p);
            }
            else if (fromWest) ctx.Fadds(y, east, p);
            else if (fromEast) ctx.Fadds(y, west, p);
            else ctx.Fmovs(y, p);
            if (_bias && _fp16) ctx.Fmachs(y, y, Dsd.Mem1D(_m.Ones16.Address, n), ScalarOperand.Mem(_m.Wb16.Address + 2 * _kin));
            else if (_bias) ctx.Fadds(y, y, Operand.Mem(wb.At(_kin)));
            if (_residual is { } r) ctx.Fadds(y, y, r.Row(_map.Slot[i], n));
        }
        ctx.Then(_step);
    }
}

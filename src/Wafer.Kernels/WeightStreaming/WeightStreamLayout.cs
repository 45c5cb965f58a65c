// What the weight-streaming products share: the fabric (an edge row streaming weights down every column on color 4,
// worker rows chained east on colors 0/1), the worker's symbols and queues, the row step of the reduction, the seeded
// inputs and the float64 host reference.
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;
using Wafer.Kernels.Proofs;

namespace Wafer.Kernels.WeightStreaming;

/// <summary>A product's shape: Cc feature columns, R worker rows (the fabric is R + 1 tall), n tokens and k features
/// per PE, D_out outputs.</summary>
internal readonly record struct WeightStreamShape(int Columns, int Rows, int Tokens, int Features, int Outputs);

internal static class WeightStreamLayout
{
    public const int RowBase = 0;       // row chains alternate colors 0 and 1
    public const int WeightColor = 4;   // the column multicast of weights
    public const int WeightInQueue = 1; // 6 deep on WSE-2
    public const int WeightOutQueue = 3; // 6 deep: a 2-deep queue would throttle the stream when R > 2
    public const int GradColor = 0;      // backward products: dY multicast west along each worker row
    public const int GradInQueue = 0, GradOutQueue = 2;

    /// <summary>The shape from the run's size (defaults 4 columns, 3 rows, n 8, k 4, D_out 16), checked against the wafer.</summary>
    public static WeightStreamShape Shape(string program, WaferConfig wafer, DemoSize size)
    {
        var shape = new WeightStreamShape(
            size.Width > 0 ? size.Width : Math.Min(4, wafer.WidthPes),
            size.Height > 0 ? size.Height : Math.Min(3, wafer.HeightPes - 1),
            size.Length > 0 ? size.Length : 8,
            size.Block > 0 ? size.Block : 4,
            size.Outputs > 0 ? size.Outputs : 16);
        if (shape.Rows + 1 > wafer.HeightPes || shape.Columns > wafer.WidthPes)
            throw new WaferInputException($"{program}: {shape.Columns} x {shape.Rows + 1} PEs (R worker rows + the edge row) do not fit the {wafer.WidthPes} x {wafer.HeightPes} wafer");
        // Before any block is sized on the host: every variant keeps a worker's k x n block in one PE, and D_out x
        // min(n, k) values in another (Y or dY of the last column: D_out x n; W or dW at the edge: D_out x k), at
        // 2 bytes a value or more. (The exact per-PE layout is checked symbol by symbol when the code is built.)
        var (n, k, dOut) = ((long)shape.Tokens, (long)shape.Features, (long)shape.Outputs);
        foreach (var (values, what) in new[] { (k * n, $"a worker's {k} x {n} block"), (dOut * Math.Min(n, k), $"{dOut} outputs x {Math.Min(n, k)} values") })
            if (2 * values > wafer.UsableSramBytesPerPe)
                throw new WaferInputException($"{program}: {what}: at least {2 * values:N0} bytes of one PE's SRAM, more than its {wafer.UsableSramBytesPerPe:N0} usable");
        return shape;
    }

    /// <summary>Cc columns x (R + 1) rows: row 0 streams weights south, rows 1..R are workers chained east.</summary>
    public static FabricLayout Build(int cc, int rows)
    {
        var layout = new FabricLayout(cc, rows + 1);
        WeightColumns(layout, cc, rows);
        for (var y = 1; y <= rows; y++) Chains.RowChain(layout, y, cc, RowBase);
        return layout;
    }

    /// <summary>Every column: PE (x, 0) sends weights south, workers deliver and pass them on, the last row delivers.</summary>
    public static void WeightColumns(FabricLayout layout, int cc, int rows)
    {
        for (var x = 0; x < cc; x++)
        {
            layout.Route(x, 0, WeightColor, Ports.Ramp, Ports.South);
            for (var y = 1; y < rows; y++) layout.Route(x, y, WeightColor, Ports.North, Ports.Ramp | Ports.South);
            layout.Route(x, rows, WeightColor, Ports.North, Ports.Ramp);
        }
    }

    /// <summary>Every worker row: the last column multicasts west (tx {RAMP, WEST} in the middle) on GradColor.</summary>
    public static void GradientRowsWest(FabricLayout layout, int cc, int rows)
    {
        if (cc < 2) return;
        for (var y = 1; y <= rows; y++)
        {
            layout.Route(cc - 1, y, GradColor, Ports.Ramp, Ports.West);
            for (var x = 1; x < cc - 1; x++) layout.Route(x, y, GradColor, Ports.East, Ports.Ramp | Ports.West);
            layout.Route(0, y, GradColor, Ports.East, Ports.Ramp);
        }
    }

    /// <summary>Declares dY storage and queues for a backward worker: the last column holds dY[o][t] and sends, the
    /// others receive dY[:, o] into D.</summary>
    public static void DeclareGradient(PeCode code, bool last, bool chain, int n, int dOut, bool fp16 = false)
    {
        if (fp16)
        {
            if (last) code.SymbolF16("dY", dOut * n);
            else code.SymbolF16("D", n);
        }
        else if (last) code.SymbolF32("dY", dOut * n);
        else code.SymbolF32("D", n);
        if (chain && last) code.OutputQueue(GradOutQueue, GradColor);
        if (chain && !last) code.InputQueue(GradInQueue, GradColor);
    }

    /// <summary>The address of DeclareGradient's symbol (dY on the last column, D elsewhere).</summary>
    public static int GradientAddress(PeCode code, bool last) => code.AddressOf(last ? "dY" : "D");

    /// <summary>Issues the move of dY[:, o] along the row and returns the SRAM address where this PE reads it.</summary>
    public static int IssueGradientMove(TaskContext ctx, bool last, bool chain, int n, int gradAddress, int o, bool fp16 = false)
    {
        if (!last)
        {
            if (fp16) ctx.Fmovh(Dsd.Mem1D(gradAddress, n), Dsd.FabIn(GradColor, n, GradInQueue));
            else ctx.Fmovs(Dsd.Mem1D(gradAddress, n), Dsd.FabIn(GradColor, n, GradInQueue));
            return gradAddress;
        }
        var at = gradAddress + o * n * (fp16 ? 2 : 4);
        if (chain) // dY[:, o] west along the row
        {
            if (fp16) ctx.Fmovh(Dsd.FabOut(GradColor, n, GradOutQueue), Dsd.Mem1D(at, n));
            else ctx.Fmovs(Dsd.FabOut(GradColor, n, GradOutQueue), Dsd.Mem1D(at, n));
        }
        return at;
    }

    /// <summary>Bytes that put the next symbol 8 bytes past a 16-byte boundary when the allocated symbols end at
    /// `end` (4 banks from a symbol that starts on a boundary: the bank rule's full-width placement).</summary>
    public static int PadToBankOffset(int end)
    {
        var aligned = (end + 3) & ~3;
        return ((8 - aligned % 16) + 16) % 16;
    }

    /// <summary>The edge PE: streams its `words` of W south when task `startTask` runs.</summary>
    /// <summary>The edge PE of the fp16 product: W in fp16, one value per wavelet.</summary>
    public static PeCode InjectorF16(int words, int startTask) =>
        new PeCode("wsmm-edge-fp16").SymbolF16("W", words).OutputQueue(WeightOutQueue, WeightColor)
            .LocalTask(startTask, ctx => ctx.Fmovh(Dsd.FabOut(WeightColor, words, WeightOutQueue), ctx.Mem("W", elemBytes: 2)));

    public static PeCode Injector(int words, int startTask) =>
        new PeCode("wsmm-edge").SymbolF32("W", words).OutputQueue(WeightOutQueue, WeightColor)
            .LocalTask(startTask, ctx => ctx.Fmovs(Dsd.FabOut(WeightColor, words, WeightOutQueue), ctx.Mem("W")));

    /// <summary>Bytes between the fp16 X block and P: P lands 8 bytes past a 16-byte boundary.</summary>
    public static int Fp16Padding(int k, int n) => PadToBankOffset(2 * k * n);

    /// <summary>Byte address of P in an fp16 worker (X at 0, then the padding).</summary>
    public static int Fp16PartialSumsAddress(int k, int n) => ((2 * k * n + 3) & ~3) + Fp16Padding(k, n);

    /// <summary>0 first column (starts each row chain), 1 middle, 2 last column (holds Y), 3 alone (one column).</summary>
    public static int Role(int x, int cc) => cc == 1 ? 3 : x == 0 ? 0 : x == cc - 1 ? 2 : 1;

    /// <summary>A worker's symbols (X, P, Wb, o; Y on the last column) and queues.</summary>
    public static PeCode WorkerCode(string name, int role, int x, int k, int n, int dOut, bool fp16 = false)
    {
        var code = new PeCode(name);
        if (fp16)
        {
            // X and the weights in fp16; P (fp32) placed 4 banks from X (8 bytes past a 16-byte boundary), so
            // @fmachs P += X_f w runs at full width whenever n is a multiple of 8 (docs/sources.md §2.3).
            code.SymbolF16("X", k * n).Symbol("pad", Fp16Padding(k, n)).SymbolF32("P", n).SymbolF16("Wb", k);
        }
        else code.SymbolF32("X", k * n).SymbolF32("P", n).SymbolF32("Wb", k);
        code.Symbol("o", 4).InputQueue(WeightInQueue, WeightColor);
        if (role is 2 or 3) code.SymbolF32("Y", dOut * n);
        if (role is 1 or 2) code.InputQueue(Chains.RowInQueue, Chains.RowColor(x - 1, RowBase));
        if (role is 0 or 1) code.OutputQueue(Chains.RowOutQueue, Chains.RowColor(x, RowBase));
        return code;
    }

    /// <summary>The row step for one output: the partial sums P go east, added on the way; the last column adds into Y.</summary>
    public static void IssueRowStep(TaskContext ctx, int role, int x, int n, Dsd p, int yAddress, bool async = false)
    {
        int cIn = Chains.RowColor(x - 1, RowBase), cOut = Chains.RowColor(x, RowBase);
        Completion? done = async ? Completion.Nothing : null;
        switch (role)
        {
            case 0: ctx.Fmovs(Dsd.FabOut(cOut, n, Chains.RowOutQueue), p, done); break;
            case 1: ctx.Fadds(Dsd.FabOut(cOut, n, Chains.RowOutQueue), Dsd.FabIn(cIn, n, Chains.RowInQueue), p, done); break;
            case 2: ctx.Fadds(Dsd.Mem1D(yAddress, n), Dsd.FabIn(cIn, n, Chains.RowInQueue), p, done); break;
            case 3: ctx.Fmovs(Dsd.Mem1D(yAddress, n), p); break;
        }
    }

    public static void WeightBlock(long seed, int x, float[] w)
    {
        var rng = new Random(Seeds.For(seed, x, -1));
        for (var i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1);
    }

    public static void ActivationBlock(long seed, int x, int y, float[] a)
    {
        var rng = new Random(Seeds.For(seed, x, y));
        for (var i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
    }

    /// <summary>Max |Y - X W| over the last column's outputs (float64 reference) and a tolerance of 2e-6 x sum |x w|.</summary>
    public static (double MaxErr, double Tolerance) Check(float[] got, long seed, int cc, int rows, int n, int k, int dOut, Func<int, float[]> weightsOf, float[] xBlock, bool roundToFp16 = false)
    {
        double maxErr = 0, tol = 0;
        var reference = new double[dOut * n];
        var magnitude = new double[dOut * n];
        for (var y = 1; y <= rows; y++)
        {
            Array.Clear(reference);
            Array.Clear(magnitude);
            for (var x = 0; x < cc; x++)
            {
                var w = weightsOf(x);
                ActivationBlock(seed, x, y, xBlock);
                if (roundToFp16) for (var i = 0; i < xBlock.Length; i++) xBlock[i] = (float)(Half)xBlock[i];
                for (var o = 0; o < dOut; o++)
                    for (var f = 0; f < k; f++)
                        for (var t = 0; t < n; t++)
                        {
                            var p = (double)xBlock[f * n + t] * w[o * k + f];
                            reference[o * n + t] += p;
                            magnitude[o * n + t] += Math.Abs(p);
                        }
            }
            for (var i = 0; i < dOut * n; i++)
            {
                maxErr = Math.Max(maxErr, Math.Abs(got[(y - 1) * dOut * n + i] - reference[i]));
                tol = Math.Max(tol, 4 * float.Epsilon + 2e-6 * magnitude[i]);
            }
        }
        return (maxErr, tol);
    }
}

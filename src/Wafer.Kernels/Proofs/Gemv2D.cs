// GEMV y = A x + b on a W x H grid (the SDK tutorial ladder gemv-01..05 in one kernel): PE (i, j) holds the
// mb x nb block A[j, i] (column-major) and x block i; it computes its partial sum with @fmacs, then partial sums
// flow east along each row (fabin + partial -> fabout) and the last column holds y. 1x1 is the one-PE GEMV,
// Wx1 the row with partial sums over a color, WxH the grid; the full-wafer run is the scaling benchmark.
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Proofs;

public sealed class Gemv2D(string name, string description, int defaultWidth, int defaultHeight, int defaultBlock, bool fixedOnePe = false) : IFabricDemo
{
    public const int ComputeTask = 10;
    private const int RowBaseColor = 0;

    public string Name { get; } = name;
    public string Description { get; } = description;
    public SizeOptions Reads => fixedOnePe ? SizeOptions.Length | SizeOptions.Block : SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = fixedOnePe ? 1 : size.Width > 0 ? size.Width : Math.Min(defaultWidth, wafer.WidthPes);
        var h = fixedOnePe ? 1 : size.Height > 0 ? size.Height : Math.Min(defaultHeight, wafer.HeightPes);
        var mb = size.Block > 0 ? size.Block : defaultBlock;
        var nb = size.Length > 0 ? size.Length : mb;
        if (mb < 1 || nb < 1) throw new WaferInputException($"{Name}: block sizes must be >= 1 (rows {mb}, columns {nb})");

        var layout = new FabricLayout(w, h);
        for (var y = 0; y < h; y++) Chains.RowChain(layout, y, w, RowBaseColor);
        var codes = new Dictionary<(int Role, int Parity), PeCode>();
        layout.SetCode((x, _) =>
        {
            var role = w == 1 ? 3 : x == 0 ? 0 : x == w - 1 ? 2 : 1;
            var key = (role, x & 1);
            if (!codes.TryGetValue(key, out var code)) codes[key] = code = Code(role, x, mb, nb);
            return code;
        });
        var sim = new Simulator(wafer, layout, options);

        // Inputs: each PE's block is generated from (seed, x, y) so the full wafer never needs A in host memory.
        var blockA = new float[mb * nb];
        var blockX = new float[nb];
        var blockB = new float[mb];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                Fill(size.Seed, x, y, blockA, blockX, blockB);
                sim.Host.MemcpyH2D("A", x, y, blockA);
                sim.Host.MemcpyH2D("x", x, y, blockX);
                if (x == 0) sim.Host.MemcpyH2D("b", x, y, blockB);
            }
        sim.Host.EndBatch();
        sim.Launch(ComputeTask);
        sim.Run();
        var y_ = sim.Host.MemcpyD2H("y", w - 1, 0, 1, h, mb);

        // Host reference in double, with the error bound scaled by sum |a x| (fp32 rounding, any summation order).
        double maxErr = 0, tol = 0;
        var reference = new double[mb];
        var magnitude = new double[mb];
        for (var y = 0; y < h; y++)
        {
            Array.Clear(reference);
            Array.Clear(magnitude);
            for (var x = 0; x < w; x++)
            {
                Fill(size.Seed, x, y, blockA, blockX, blockB);
                for (var r = 0; r < mb; r++)
                {
                    if (x == 0) { reference[r] += blockB[r]; magnitude[r] += Math.Abs(blockB[r]); }
                    for (var c = 0; c < nb; c++)
                    {
                        var p = (double)blockA[c * mb + r] * blockX[c];
                        reference[r] += p;
                        magnitude[r] += Math.Abs(p);
                    }
                }
            }
            for (var r = 0; r < mb; r++)
            {
                maxErr = Math.Max(maxErr, Math.Abs(y_[y * mb + r] - reference[r]));
                tol = Math.Max(tol, 4 * float.Epsilon + 2e-6 * magnitude[r]);
            }
        }
        var parameters = new Dictionary<string, object> { ["width"] = w, ["height"] = h, ["blockRows"] = mb, ["blockColumns"] = nb, ["rows"] = (long)mb * h, ["columns"] = (long)nb * w };
        var extra = new Dictionary<string, double> { ["matrixRows"] = (double)mb * h, ["matrixColumns"] = (double)nb * w };
        return new DemoResult(sim, maxErr, tol, parameters, extra, CycleModels.Gemv(wafer, w, mb, nb));
    }

    /// <summary>role: 0 first column (adds b, starts the chain), 1 middle, 2 last column (ends the chain), 3 alone (1 column).</summary>
    private static PeCode Code(int role, int x, int mb, int nb)
    {
        var code = new PeCode($"gemv-{role}-{x & 1}").SymbolF32("A", mb * nb).SymbolF32("x", nb).SymbolF32("y", mb).Symbol("j", 4);
        if (role is 0 or 3) code.SymbolF32("b", mb);
        int cIn = Chains.RowColor(x - 1, RowBaseColor), cOut = Chains.RowColor(x, RowBaseColor);
        if (role is 1 or 2) code.InputQueue(Chains.RowInQueue, cIn);
        if (role is 0 or 1) code.OutputQueue(Chains.RowOutQueue, cOut);

        // One loop iteration per column of A, like CSL's `for (cols) |j| { @fmacs(y, y, A_col, x[j]); A_col = @increment_dsd_offset(...) }`:
        // the loop body is a continuation that reads the counter j from SRAM, issues one @fmacs, and re-arms itself
        // (1 cycle of scalar loop overhead per column). When the columns are done it issues the row-reduction step.
        int aAddress = code.AddressOf("A"), xAddress = code.AddressOf("x"), yAddress = code.AddressOf("y"), jAddress = code.AddressOf("j");
        var bAddress = role is 0 or 3 ? code.AddressOf("b") : -1;
        var yDsd = Dsd.Mem1D(yAddress, mb);
        Action<TaskContext>? loop = null;
        loop = ctx =>
        {
            var j = ctx.LoadI32(jAddress);
            if (j < nb)
            {
                ctx.StoreI32(jAddress, j + 1);
                ctx.Fmacs(yDsd, yDsd, Dsd.Mem1D(aAddress + j * mb * 4, mb), Operand.Mem(xAddress + j * 4));
                ctx.Then(loop!);
                return;
            }
            switch (role)
            {
                case 0: ctx.Fmovs(Dsd.FabOut(cOut, mb, Chains.RowOutQueue), yDsd); break;
                case 1: ctx.Fadds(Dsd.FabOut(cOut, mb, Chains.RowOutQueue), Dsd.FabIn(cIn, mb, Chains.RowInQueue), yDsd); break;
                case 2: ctx.Fadds(yDsd, Dsd.FabIn(cIn, mb, Chains.RowInQueue), yDsd); break;
            }
        };
        code.LocalTask(ComputeTask, ctx =>
        {
            ctx.StoreI32(jAddress, 0);
            if (bAddress >= 0) ctx.Fmovs(yDsd, Dsd.Mem1D(bAddress, mb));
            else ctx.Fmovs(yDsd, 0f);
            ctx.Then(loop);
        });
        return code;
    }

    private static void Fill(long seed, int x, int y, float[] a, float[] xs, float[] b)
    {
        var rng = new Random(Seeds.For(seed, x, y));
        for (var i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        for (var i = 0; i < xs.Length; i++) xs[i] = (float)(rng.NextDouble() * 2 - 1);
        for (var i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() * 2 - 1);
    }
}

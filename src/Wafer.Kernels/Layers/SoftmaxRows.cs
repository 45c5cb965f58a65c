// Row softmax over the block layout (the LM head's logits over the vocabulary, or any feature-wise softmax): PE (x, y)
// holds features x k .. x k + k - 1 of tokens y n .. y n + n - 1, feature-major; a token's D = W k values lie along a
// row of PEs. p[t, f] = exp(x[t, f] - max_t) / sum_f' exp(x[t, f'] - max_t).
//
// Per PE: the local max over k features (@fmovs, k - 1 @fmaxs), a row allreduce of the max (RowAllReduce, max), x -= max
// (k @fsubs), exp per value in scalar code (ScalarMath.ExpCycles each: the ISA has no vector exp), the local sum (@fmovs,
// k - 1 @fadds), a row allreduce of the sum, 1 / sum per token in scalar code (ScalarMath.ReciprocalCycles), then
// k @fmuls by it. In place over X.
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Layers;

public sealed class SoftmaxRows : IFabricDemo
{
    public const int StartTask = 10;
    public string Name => "softmax";
    public string Description => "row softmax over the block layout: max and sum row allreduces, exp and 1/sum in scalar code (--length n tokens, --block k values per PE)";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var (w, h, n, k) = BlockLayout.Shape(Name, wafer, size);
        var layout = new FabricLayout(w, h);
        RowAllReduce.Routes(layout, w, h);
        BlockLayout.CodePerColumn(layout, x => Code(x, w, n, k));
        var sim = new Simulator(wafer, layout, options);
        var rng = new Random(Seeds.For(size.Seed, w, h));
        var d = w * k;
        var xs = new float[h * n * d]; // [token][feature], logits-like: spread over +-8
        for (var i = 0; i < xs.Length; i++) xs[i] = (float)(rng.NextDouble() * 16 - 8);
        sim.Host.MemcpyH2D("X", 0, 0, w, h, BlockLayout.ToBlocks(xs, w, h, n, k), k * n);
        sim.Launch(StartTask);
        sim.Run();
        var got = sim.Host.MemcpyD2H("X", 0, 0, w, h, k * n);
        double maxErr = 0;
        for (var y = 0; y < h; y++)
            for (var t = 0; t < n; t++)
            {
                var row = Enumerable.Range(0, d).Select(f => (double)xs[(y * n + t) * d + f]).ToArray();
                var m = row.Max();
                var sum = row.Sum(v => Math.Exp(v - m));
                for (var x = 0; x < w; x++)
                    for (var f = 0; f < k; f++)
                        maxErr = Math.Max(maxErr, Math.Abs(got[((y * w + x) * k + f) * n + t] - Math.Exp(row[x * k + f] - m) / sum));
            }
        // Probabilities <= 1, each from an fp32 exp and a sum of D fp32 values.
        var tol = 1e-6 * (d + 4);
        var parameters = new Dictionary<string, object> { ["width"] = w, ["height"] = h, ["tokensPerPe"] = n, ["valuesPerPe"] = k, ["values"] = d };
        return new DemoResult(sim, maxErr, tol, parameters, new Dictionary<string, double>(), Model(wafer, w, n, k));
    }

    /// <summary>Symbols: X (k n), M (n: the max, then the sum, then its reciprocal).</summary>
    internal static (int X, int M) Addresses(int n, int k) => (0, 4 * k * n);

    private static PeCode Code(int x, int w, int n, int k)
    {
        var (xAddr, mAddr) = Addresses(n, k);
        var code = new PeCode($"softmax-{x}").SymbolF32("X", k * n).SymbolF32("M", n);
        RowAllReduce.DeclareQueues(code, x, w);
        Dsd Xf(int f) => Dsd.Mem1D(xAddr + 4 * f * n, n);
        var m = Dsd.Mem1D(mAddr, n);
        code.LocalTask(StartTask, ctx =>
        {
            ctx.Fmovs(m, Xf(0));
            for (var f = 1; f < k; f++) ctx.Fmaxs(m, m, Xf(f));
            RowAllReduce.Issue(ctx, m, x, w, n, max: true);
            for (var f = 0; f < k; f++) ctx.Fsubs(Xf(f), Xf(f), m);
            ctx.Then(exp =>
            {
                // exp of every value, one at a time in scalar code.
                for (var i = 0; i < k * n; i++) exp.StoreF32(xAddr + 4 * i, MathF.Exp(exp.LoadF32(xAddr + 4 * i)));
                exp.Scalar(k * n * ScalarMath.ExpCycles);
                exp.Fmovs(m, Xf(0));
                for (var f = 1; f < k; f++) exp.Fadds(m, m, Xf(f));
                RowAllReduce.Issue(exp, m, x, w, n, max: false);
                exp.Then(scale =>
                {
                    for (var t = 0; t < n; t++) scale.StoreF32(mAddr + 4 * t, 1f / scale.LoadF32(mAddr + 4 * t));
                    scale.Scalar(n * ScalarMath.ReciprocalCycles);
                    for (var f = 0; f < k; f++) scale.Fmuls(Xf(f), Xf(f), m);
                });
            });
        });
        return code;
    }


    /// <summary>Closed form: TS; max (@fmovs at the add width, @fmaxs at the convert width, bank rule from the
    /// addresses); the max allreduce; k @fsubs; Then + k n ExpCycles; the sum; the sum allreduce; Then + n
    /// ReciprocalCycles; k @fmuls.</summary>
    public static long Model(WaferConfig c, int w, int n, int k)
    {
        var (xAddr, mAddr) = Addresses(n, k);
        int Xf(int f) => xAddr + 4 * f * n;
        long total = c.TaskStartCycles + OpCycles.Memory(c, n, c.SimdWidthFp32Add, -1, -1);
        for (var f = 1; f < k; f++) total += OpCycles.Memory(c, n, c.SimdWidthConvert, mAddr, Xf(f));
        total += RowAllReduce.Cycles(c, w, n);
        for (var f = 0; f < k; f++) total += OpCycles.Memory(c, n, c.SimdWidthFp32Add, Xf(f), mAddr);
        total += 1 + (long)k * n * ScalarMath.ExpCycles;
        total += OpCycles.Memory(c, n, c.SimdWidthFp32Add, -1, -1);
        for (var f = 1; f < k; f++) total += OpCycles.Memory(c, n, c.SimdWidthFp32Add, mAddr, Xf(f));
        total += RowAllReduce.Cycles(c, w, n);
        total += 1 + (long)n * ScalarMath.ReciprocalCycles;
        for (var f = 0; f < k; f++) total += OpCycles.Memory(c, n, c.SimdWidthFp32Mul, Xf(f), mAddr);
        return total;
    }
}

// LayerNorm over the weight-streaming activation layout (WeightStreaming/README.md): PE (x, y) holds features
// x k .. x k + k - 1 of tokens y n .. y n + n - 1, feature-major (X[f][t]); a token's D = W k features lie along a row of
// PEs. y[t, f] = (x[t, f] - mean_t) rstd_t gamma_f + beta_f with rstd_t = 1 / sqrt(var_t + eps).
//
// Per PE: partial sums S = [sum_f X_f ; sum_f X_f^2] (2n values: an @fmovs and k - 1 @fadds; k @fmuls and k @fadds),
// a row allreduce of S (the chain east on colors 0/1, then the last PE multicasts the totals west on color 4), mean and
// variance (@fmuls, @fsubs over n), rstd per token in scalar code (no reciprocal square root in the WSE-2 ISA: charged
// ScalarMath.RsqrtCycles per token, our choice), then per feature 4 ops: X_f - mean, * rstd, * gamma_f, + beta_f (in place).
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;
using Wafer.Kernels.Proofs;

namespace Wafer.Kernels.Layers;

public sealed class LayerNormRows : IFabricDemo
{
    public const int StartTask = 10;
    public const float Epsilon = 1e-5f;

    public string Name => "layernorm";
    public string Description => "LayerNorm over the block layout: per-PE partial sums, a row allreduce, scalar rsqrt per token (--length n tokens, --block k features per PE)";
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
        var xs = new float[h * n * d]; // [token][feature]
        var gamma = new float[d];
        var beta = new float[d];
        for (var i = 0; i < xs.Length; i++) xs[i] = (float)(rng.NextDouble() * 4 - 1); // a non-zero mean
        for (var f = 0; f < d; f++) { gamma[f] = (float)(0.5 + rng.NextDouble()); beta[f] = (float)(rng.NextDouble() - 0.5); }
        var gb = new float[w * h * 2 * k];
        for (var pe = 0; pe < w * h; pe++)
            for (var f = 0; f < k; f++)
            {
                gb[pe * 2 * k + f] = gamma[pe % w * k + f];
                gb[pe * 2 * k + k + f] = beta[pe % w * k + f];
            }
        sim.Host.MemcpyH2D("X", 0, 0, w, h, BlockLayout.ToBlocks(xs, w, h, n, k), k * n);
        sim.Host.MemcpyH2D("GB", 0, 0, w, h, gb, 2 * k);
        sim.Launch(StartTask);
        sim.Run();
        var got = sim.Host.MemcpyD2H("X", 0, 0, w, h, k * n);
        double maxErr = 0, tol = 0;
        for (var y = 0; y < h; y++)
            for (var t = 0; t < n; t++)
            {
                double mean = 0, sq = 0;
                for (var f = 0; f < d; f++) mean += xs[(y * n + t) * d + f];
                mean /= d;
                for (var f = 0; f < d; f++) { var c = xs[(y * n + t) * d + f] - mean; sq += c * c; }
                var rstd = 1 / Math.Sqrt(sq / d + Epsilon);
                for (var x = 0; x < w; x++)
                    for (var f = 0; f < k; f++)
                    {
                        var fi = x * k + f;
                        var want = (xs[(y * n + t) * d + fi] - mean) * rstd * gamma[fi] + beta[fi];
                        maxErr = Math.Max(maxErr, Math.Abs(got[((y * w + x) * k + f) * n + t] - want));
                        // fp32 sums of D values and E[x^2] - mean^2 (cancellation when |mean| >> std): relative to the
                        // token's scale.
                        tol = Math.Max(tol, 1e-5 * d * (Math.Abs(mean) + 1) * rstd * Math.Abs(gamma[fi]) + 1e-6);
                    }
            }
        var parameters = new Dictionary<string, object> { ["width"] = w, ["height"] = h, ["tokensPerPe"] = n, ["featuresPerPe"] = k, ["features"] = d };
        return new DemoResult(sim, maxErr, tol, parameters, new Dictionary<string, double>(), Model(wafer, w, n, k));
    }

    /// <summary>Symbols: X (k n), GB (2 k), S (2 n: sums, then mean and rstd), T (n scratch, then variance).</summary>
    internal static (int X, int Gb, int S, int T) Addresses(int n, int k) => (0, 4 * k * n, 4 * k * n + 8 * k, 4 * k * n + 8 * k + 8 * n);

    private static PeCode Code(int x, int w, int n, int k)
    {
        var (xAddr, gbAddr, sAddr, tAddr) = Addresses(n, k);
        var code = new PeCode($"layernorm-{x}").SymbolF32("X", k * n).SymbolF32("GB", 2 * k).SymbolF32("S", 2 * n).SymbolF32("T", n);
        RowAllReduce.DeclareQueues(code, x, w);
        var d = w * k;
        Dsd Xf(int f) => Dsd.Mem1D(xAddr + 4 * f * n, n);
        var sum = Dsd.Mem1D(sAddr, n);
        var sumSq = Dsd.Mem1D(sAddr + 4 * n, n);
        var both = Dsd.Mem1D(sAddr, 2 * n);
        var t = Dsd.Mem1D(tAddr, n);
        code.LocalTask(StartTask, ctx =>
        {
            ctx.Fmovs(sum, Xf(0));
            for (var f = 1; f < k; f++) ctx.Fadds(sum, sum, Xf(f));
            ctx.Fmuls(sumSq, Xf(0), Xf(0));
            for (var f = 1; f < k; f++)
            {
                ctx.Fmuls(t, Xf(f), Xf(f));
                ctx.Fadds(sumSq, sumSq, t);
            }
            RowAllReduce.Issue(ctx, both, x, w, 2 * n, max: false); // [sum; sum of squares] over the row
            // mean = sum / D; var = sumSq / D - mean^2 (into T)
            ctx.Fmuls(sum, sum, 1f / d);
            ctx.Fmuls(t, sum, sum);
            ctx.Fmuls(sumSq, sumSq, 1f / d);
            ctx.Fsubs(t, sumSq, t);
            // rstd per token in scalar code, into the second half of S.
            ctx.Then(next =>
            {
                for (var i = 0; i < n; i++)
                    next.StoreF32(sAddr + 4 * (n + i), 1f / MathF.Sqrt(next.LoadF32(tAddr + 4 * i) + Epsilon));
                next.Scalar(n * ScalarMath.RsqrtCycles);
                var mean = Dsd.Mem1D(sAddr, n);
                var rstd = Dsd.Mem1D(sAddr + 4 * n, n);
                for (var f = 0; f < k; f++)
                {
                    next.Fsubs(Xf(f), Xf(f), mean);
                    next.Fmuls(Xf(f), Xf(f), rstd);
                    next.Fmuls(Xf(f), Xf(f), Operand.Mem(gbAddr + 4 * f));
                    next.Fadds(Xf(f), Xf(f), Operand.Mem(gbAddr + 4 * (k + f)));
                }
            });
        });
        return code;
    }


    /// <summary>Closed form: TS, the partial sums, the row allreduce (CollectiveModels.AllReduce on one row of 2n), the
    /// mean/variance ops, the Then, n ScalarMath.RsqrtCycles, and 4 ops per feature. Widths from the config, the bank rule from
    /// the symbol addresses.</summary>
    public static long Model(WaferConfig c, int w, int n, int k)
    {
        long ts = c.TaskStartCycles;
        int add = c.SimdWidthFp32Add, mul = c.SimdWidthFp32Mul;
        var (xAddr, _, sAddr, tAddr) = Addresses(n, k);
        int Xf(int f) => xAddr + 4 * f * n;
        var local = OpCycles.Memory(c, n, add, -1, -1);                                           // sum = X_0
        for (var f = 1; f < k; f++) local += OpCycles.Memory(c, n, add, sAddr, Xf(f));          // sum += X_f
        local += OpCycles.Memory(c, n, mul, Xf(0), Xf(0));                                       // sumSq = X_0^2
        for (var f = 1; f < k; f++) local += OpCycles.Memory(c, n, mul, Xf(f), Xf(f)) + OpCycles.Memory(c, n, add, sAddr + 4 * n, tAddr);
        var allreduce = RowAllReduce.Cycles(c, w, 2 * n);
        var stats = OpCycles.Memory(c, n, mul, sAddr, -1) + OpCycles.Memory(c, n, mul, sAddr, sAddr) + OpCycles.Memory(c, n, mul, sAddr + 4 * n, -1) + OpCycles.Memory(c, n, add, sAddr + 4 * n, tAddr);
        long normalise = 0;
        for (var f = 0; f < k; f++)
            normalise += OpCycles.Memory(c, n, add, Xf(f), sAddr) + OpCycles.Memory(c, n, mul, Xf(f), sAddr + 4 * n) + OpCycles.Memory(c, n, mul, -1, -1) + OpCycles.Memory(c, n, add, -1, -1);
        return ts + local + allreduce + stats + 1 + (long)n * ScalarMath.RsqrtCycles + normalise;
    }
}

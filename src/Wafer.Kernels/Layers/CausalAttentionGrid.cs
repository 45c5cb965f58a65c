// Causal self-attention for one head on a P x P grid: queries along rows, keys along columns. With T = P n tokens, PE
// (x, y) handles query block y and key block x (n tokens each) and holds Q_y^T (hs x n, pre-scaled by 1/sqrt(hs)),
// K_x (n x hs) and V_x (n x hs): the host places them as the layer before would leave them (Q blocks broadcast along
// rows, K and V down columns, as SUMMA's panels). Scores are kept transposed, S^T[j][i] for key j and query i, so the
// reductions over keys are elementwise over n-query vectors:
//   S^T_j = sum_d K[j, d] Q^T_d                 (n hs @fmacs of n queries; skipped above the diagonal, x > y)
//   diagonal blocks (x = y): S^T += mask        (one @fadds over n n; mask = -1e30 where key j > query i)
//   m = max_j S^T_j; row allreduce of m (max)   (@fmovs, n - 1 @fmaxs; above the diagonal m = -1e30)
//   S^T_j -= m; exp in scalar code; l = sum_j S^T_j; row allreduce of l (sum); 1 / l in scalar code; P^T_j = S^T_j / l
//   O^T_d = sum_j V[j, d] P^T_j                 (hs n @fmacs of n); a row allreduce of O^T (hs n values)
// Every PE of row y ends with O_y^T, the attention output of query block y (hs x n). Blocks above the diagonal only
// take part in the allreduces (their max is -1e30, their sums 0): that is the causal saving, about half the FMACs.
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Layers;

public sealed class CausalAttentionGrid : IFabricDemo
{
    public const int StartTask = 10;
    private const float Masked = -1e30f;
    public string Name => "attention";
    public string Description => "causal self-attention, one head: queries along rows, keys along columns of a P x P grid (--width P, --length n tokens per block, --block hs)";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var p = size.Width > 0 ? size.Width : Math.Min(4, wafer.WidthPes);
        var n = size.Length > 0 ? size.Length : 8;
        var hs = size.Block > 0 ? size.Block : 8;
        if (size.Height > 0 && size.Height != p) throw new WaferInputException($"{Name}: the grid is square (queries x keys): --height must equal --width {p} (got {size.Height})");
        if (p > wafer.WidthPes || p > wafer.HeightPes) throw new WaferInputException($"{Name}: {p} x {p} PEs do not fit the {wafer.WidthPes} x {wafer.HeightPes} wafer");
        var layout = new FabricLayout(p, p);
        RowAllReduce.Routes(layout, p, p);
        layout.SetCode((x, y) => Code(x, y, p, n, hs));
        var sim = new Simulator(wafer, layout, options);
        var rng = new Random(Seeds.For(size.Seed, p, p));
        var t = p * n;
        float[] Rand(int count) => Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var q = Rand(t * hs); // [token][d]
        var k = Rand(t * hs);
        var v = Rand(t * hs);
        var scale = 1f / MathF.Sqrt(hs);
        var qt = new float[p * p * hs * n];
        var kb = new float[p * p * n * hs];
        var vb = new float[p * p * n * hs];
        var mask = new float[p * p * n * n];
        for (var y = 0; y < p; y++)
            for (var x = 0; x < p; x++)
            {
                var pe = y * p + x;
                for (var d = 0; d < hs; d++)
                    for (var i = 0; i < n; i++) qt[(pe * hs + d) * n + i] = q[(y * n + i) * hs + d] * scale;
                for (var j = 0; j < n; j++)
                    for (var d = 0; d < hs; d++)
                    {
                        kb[(pe * n + j) * hs + d] = k[(x * n + j) * hs + d];
                        vb[(pe * n + j) * hs + d] = v[(x * n + j) * hs + d];
                    }
                for (var j = 0; j < n; j++)
                    for (var i = 0; i < n; i++) mask[(pe * n + j) * n + i] = j > i ? Masked : 0f;
            }
        sim.Host.MemcpyH2D("QT", 0, 0, p, p, qt, hs * n);
        sim.Host.MemcpyH2D("K", 0, 0, p, p, kb, n * hs);
        sim.Host.MemcpyH2D("V", 0, 0, p, p, vb, n * hs);
        sim.Host.MemcpyH2D("Mask", 0, 0, p, p, mask, n * n);
        sim.Launch(StartTask);
        sim.Run();
        var got = sim.Host.MemcpyD2H("OT", 0, 0, p, p, hs * n);
        double maxErr = 0, tol = 0;
        for (var i = 0; i < t; i++)
        {
            var scores = new double[i + 1];
            for (var j = 0; j <= i; j++)
                for (var d = 0; d < hs; d++) scores[j] += (double)(q[i * hs + d] * scale) * k[j * hs + d];
            var max = scores.Max();
            var e = scores.Select(s => Math.Exp(s - max)).ToArray();
            var sum = e.Sum();
            int y = i / n, iq = i % n;
            for (var d = 0; d < hs; d++)
            {
                double o = 0, mag = 0;
                for (var j = 0; j <= i; j++) { o += e[j] / sum * v[j * hs + d]; mag += Math.Abs(e[j] / sum * v[j * hs + d]); }
                tol = Math.Max(tol, 2e-6 * (t + hs) * (mag + 1e-3));
                for (var x = 0; x < p; x++) maxErr = Math.Max(maxErr, Math.Abs(got[((y * p + x) * hs + d) * n + iq] - o));
            }
        }
        var parameters = new Dictionary<string, object> { ["grid"] = p, ["tokens"] = t, ["tokensPerBlock"] = n, ["headSize"] = hs };
        var extra = new Dictionary<string, double> { ["macs"] = 2.0 * t * (t + 1) / 2 * hs };
        return new DemoResult(sim, maxErr, tol, parameters, extra, Model(wafer, p, n, hs));
    }

    /// <summary>Symbols in order: QT (hs n), K (n hs), V (n hs), Mask (n n), ST (n n), OT (hs n), M (n).</summary>
    internal static (int Qt, int K, int V, int Mask, int St, int Ot, int M) Addresses(int n, int hs)
    {
        int qt = 0, k = qt + 4 * hs * n, v = k + 4 * n * hs, mask = v + 4 * n * hs, st = mask + 4 * n * n, ot = st + 4 * n * n, m = ot + 4 * hs * n;
        return (qt, k, v, mask, st, ot, m);
    }

    private static PeCode Code(int x, int y, int p, int n, int hs)
    {
        var a = Addresses(n, hs);
        var code = new PeCode($"attention-{x}-{y}")
            .SymbolF32("QT", hs * n).SymbolF32("K", n * hs).SymbolF32("V", n * hs).SymbolF32("Mask", n * n)
            .SymbolF32("ST", n * n).SymbolF32("OT", hs * n).SymbolF32("M", n);
        RowAllReduce.DeclareQueues(code, x, p);
        var active = x <= y; // blocks above the diagonal hold only future keys
        Dsd St(int j) => Dsd.Mem1D(a.St + 4 * j * n, n);
        Dsd Qt(int d) => Dsd.Mem1D(a.Qt + 4 * d * n, n);
        Dsd Ot(int d) => Dsd.Mem1D(a.Ot + 4 * d * n, n);
        var st = Dsd.Mem1D(a.St, n * n);
        var ot = Dsd.Mem1D(a.Ot, hs * n);
        var m = Dsd.Mem1D(a.M, n);
        code.LocalTask(StartTask, ctx =>
        {
            if (active)
            {
                for (var j = 0; j < n; j++)
                {
                    ctx.Fmuls(St(j), Qt(0), Operand.Mem(a.K + 4 * j * hs));
                    for (var d = 1; d < hs; d++) ctx.Fmacs(St(j), St(j), Qt(d), ScalarOperand.Mem(a.K + 4 * (j * hs + d)));
                }
                if (x == y) ctx.Fadds(st, st, Dsd.Mem1D(a.Mask, n * n));
                ctx.Fmovs(m, St(0));
                for (var j = 1; j < n; j++) ctx.Fmaxs(m, m, St(j));
            }
            else ctx.Fmovs(m, Masked);
            RowAllReduce.Issue(ctx, m, x, p, n, max: true);
            ctx.Then(exp =>
            {
                if (active)
                {
                    for (var j = 0; j < n; j++) exp.Fsubs(St(j), St(j), m);
                    exp.Then(sums =>
                    {
                        for (var i = 0; i < n * n; i++) sums.StoreF32(a.St + 4 * i, MathF.Exp(sums.LoadF32(a.St + 4 * i)));
                        sums.Scalar(n * n * ScalarMath.ExpCycles);
                        sums.Fmovs(m, St(0));
                        for (var j = 1; j < n; j++) sums.Fadds(m, m, St(j));
                        Normalise(sums);
                    });
                }
                else
                {
                    exp.Fmovs(m, 0f);
                    exp.Fmovs(ot, 0f);
                    Normalise(exp);
                }
            });
        });

        void Normalise(TaskContext ctx)
        {
            RowAllReduce.Issue(ctx, m, x, p, n, max: false);
            ctx.Then(scale =>
            {
                if (active)
                {
                    for (var i = 0; i < n; i++) scale.StoreF32(a.M + 4 * i, 1f / scale.LoadF32(a.M + 4 * i));
                    scale.Scalar(n * ScalarMath.ReciprocalCycles);
                    for (var j = 0; j < n; j++) scale.Fmuls(St(j), St(j), m);
                    for (var d = 0; d < hs; d++)
                    {
                        scale.Fmuls(Ot(d), St(0), Operand.Mem(a.V + 4 * d));
                        for (var j = 1; j < n; j++) scale.Fmacs(Ot(d), Ot(d), St(j), ScalarOperand.Mem(a.V + 4 * (j * hs + d)));
                    }
                }
                RowAllReduce.Issue(scale, ot, x, p, hs * n, max: false);
            });
        }
        return code;
    }


    /// <summary>Schedule model: per PE the op costs of its phase (active blocks: scores, mask, max; exp; sums;
    /// normalise and output; blocks above the diagonal: two moves), each phase ending at a row allreduce whose
    /// per-PE finishing times come from RowAllReduce.Done given every PE's issue time; Then continuations 1 cycle each.</summary>
    public static long Model(WaferConfig c, int p, int n, int hs)
    {
        var a = Addresses(n, hs);
        int add = c.SimdWidthFp32Add, mul = c.SimdWidthFp32Mul, max = c.SimdWidthConvert;
        long scores = 0;
        for (var j = 0; j < n; j++)
        {
            scores += OpCycles.Memory(c, n, mul, a.Qt, -1);
            for (var d = 1; d < hs; d++) scores += OpCycles.Memory(c, n, mul, a.St + 4 * j * n, a.Qt + 4 * d * n);
        }
        var diagonalMask = OpCycles.Memory(c, n * n, add, a.St, a.Mask);
        long maxOps = OpCycles.Memory(c, n, add, -1, -1);
        for (var j = 1; j < n; j++) maxOps += OpCycles.Memory(c, n, max, a.M, a.St + 4 * j * n);
        long subtract = 0, sumOps = OpCycles.Memory(c, n, add, -1, -1), scaleOps = 0, output = 0;
        for (var j = 0; j < n; j++) subtract += OpCycles.Memory(c, n, add, a.St + 4 * j * n, a.M);
        for (var j = 1; j < n; j++) sumOps += OpCycles.Memory(c, n, add, a.M, a.St + 4 * j * n);
        for (var j = 0; j < n; j++) scaleOps += OpCycles.Memory(c, n, mul, a.St + 4 * j * n, a.M);
        for (var d = 0; d < hs; d++)
        {
            output += OpCycles.Memory(c, n, mul, a.St, -1);
            for (var j = 1; j < n; j++) output += OpCycles.Memory(c, n, mul, a.Ot + 4 * d * n, a.St + 4 * j * n);
        }
        long total = 0;
        for (var y = 0; y < p; y++)
        {
            var issue = new long[p];
            for (var x = 0; x < p; x++)
                issue[x] = c.TaskStartCycles + (x <= y ? scores + (x == y ? diagonalMask : 0) + maxOps : OpCycles.Memory(c, n, add, -1, -1));
            var done = RowAllReduce.Done(c, issue, n);
            for (var x = 0; x < p; x++)
                issue[x] = done[x] + 1 + (x <= y ? subtract + 1 + (long)n * n * ScalarMath.ExpCycles + sumOps : OpCycles.Memory(c, n, add, -1, -1) + OpCycles.Memory(c, hs * n, add, -1, -1));
            done = RowAllReduce.Done(c, issue, n);
            for (var x = 0; x < p; x++)
                issue[x] = done[x] + 1 + (x <= y ? (long)n * ScalarMath.ReciprocalCycles + scaleOps + output : 0);
            done = RowAllReduce.Done(c, issue, hs * n);
            total = Math.Max(total, done.Max());
        }
        return total;
    }
}

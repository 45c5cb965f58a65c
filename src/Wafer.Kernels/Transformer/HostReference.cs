// Float64 references for the layer program's phases and a whole block's forward, token-major (N tokens x width):
// what the tests and `wafer run transformer-layer` check the fabric's results against.
using Wafer.Core;
namespace Wafer.Kernels.Transformer;

public static class HostReference
{
    public static (double[] Y, double[] Mean, double[] Rstd) LayerNorm(float[] x, float[] gamma, float[] beta, int tokens, int c)
    {
        var y = new double[tokens * c];
        var mean = new double[tokens];
        var rstd = new double[tokens];
        for (var t = 0; t < tokens; t++)
        {
            double m = 0, v = 0;
            for (var f = 0; f < c; f++) m += x[t * c + f];
            m /= c;
            for (var f = 0; f < c; f++) v += (x[t * c + f] - m) * (x[t * c + f] - m);
            var s = 1 / Math.Sqrt(v / c + 1e-5);
            for (var f = 0; f < c; f++) y[t * c + f] = (x[t * c + f] - m) * s * gamma[f] + beta[f];
            (mean[t], rstd[t]) = (m, s);
        }
        return (y, mean, rstd);
    }

    /// <summary>dx, dgamma, dbeta of LayerNorm for upstream gradient dy.</summary>
    public static (double[] Dx, double[] DGamma, double[] DBeta) LayerNormBackward(float[] x, float[] gamma, float[] dy, int tokens, int c)
    {
        var (_, mean, rstd) = LayerNorm(x, gamma, new float[c], tokens, c);
        var dx = new double[tokens * c];
        var dg = new double[c];
        var db = new double[c];
        for (var t = 0; t < tokens; t++)
        {
            double a = 0, b = 0;
            for (var f = 0; f < c; f++)
            {
                var norm = (x[t * c + f] - mean[t]) * rstd[t];
                var dn = gamma[f] * dy[t * c + f];
                a += dn; b += dn * norm;
                dg[f] += norm * dy[t * c + f];
                db[f] += dy[t * c + f];
            }
            a /= c; b /= c;
            for (var f = 0; f < c; f++)
            {
                var norm = (x[t * c + f] - mean[t]) * rstd[t];
                dx[t * c + f] = (gamma[f] * dy[t * c + f] - a - norm * b) * rstd[t];
            }
        }
        return (dx, dg, db);
    }

    /// <summary>Causal attention per sequence of t tokens: qkv (N x 3C, q | k | v) -> out (N x C); with dOut also dqkv.</summary>
    public static (double[] Out, double[] DQkv) Attention(float[] qkv, float[]? dOut, int tokens, int c, int heads, int t)
    {
        var hs = c / heads;
        var scale = 1 / Math.Sqrt(hs);
        var outp = new double[tokens * c];
        var dqkv = new double[tokens * 3 * c];
        for (var s0 = 0; s0 < tokens; s0 += t)
            for (var h = 0; h < heads; h++)
            {
                double Q(int i, int f) => qkv[(s0 + i) * 3 * c + h * hs + f];
                double K(int i, int f) => qkv[(s0 + i) * 3 * c + c + h * hs + f];
                double V(int i, int f) => qkv[(s0 + i) * 3 * c + 2 * c + h * hs + f];
                var p = new double[t, t];
                for (var i = 0; i < t; i++)
                {
                    var max = double.NegativeInfinity;
                    for (var j = 0; j <= i; j++)
                    {
                        double sc = 0;
                        for (var f = 0; f < hs; f++) sc += Q(i, f) * K(j, f);
                        p[i, j] = sc * scale;
                        max = Math.Max(max, p[i, j]);
                    }
                    double sum = 0;
                    for (var j = 0; j <= i; j++) { p[i, j] = Math.Exp(p[i, j] - max); sum += p[i, j]; }
                    for (var j = 0; j <= i; j++) p[i, j] /= sum;
                    for (var f = 0; f < hs; f++)
                    {
                        double o = 0;
                        for (var j = 0; j <= i; j++) o += p[i, j] * V(j, f);
                        outp[(s0 + i) * c + h * hs + f] = o;
                    }
                }
                if (dOut is null) continue;
                double DO(int i, int f) => dOut[(s0 + i) * c + h * hs + f];
                for (var i = 0; i < t; i++)
                {
                    var dp = new double[t];
                    double dsum = 0;
                    for (var j = 0; j <= i; j++)
                    {
                        for (var f = 0; f < hs; f++) dp[j] += DO(i, f) * V(j, f);
                        dsum += dp[j] * p[i, j];
                    }
                    for (var j = 0; j <= i; j++)
                    {
                        var ds = p[i, j] * (dp[j] - dsum) * scale;
                        for (var f = 0; f < hs; f++)
                        {
                            dqkv[(s0 + i) * 3 * c + h * hs + f] += ds * K(j, f);
                            dqkv[(s0 + j) * 3 * c + c + h * hs + f] += ds * Q(i, f);
                            dqkv[(s0 + j) * 3 * c + 2 * c + h * hs + f] += p[i, j] * DO(i, f);
                        }
                    }
                }
            }
        return (outp, dqkv);
    }

    public static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    public static double GeluSlope(double x)
    {
        var s = Math.Sqrt(2 / Math.PI);
        var th = Math.Tanh(s * (x + 0.044715 * x * x * x));
        return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * s * (1 + 3 * 0.044715 * x * x);
    }

    /// <summary>out = x W^T + b (+ residual): x (N x din), W (dout x din).</summary>
    public static double[] Product(double[] x, float[] w, float[] b, int tokens, int din, int dout, double[]? residual = null)
    {
        var y = new double[tokens * dout];
        for (var t = 0; t < tokens; t++)
            for (var o = 0; o < dout; o++)
            {
                double s = b[o] + (residual?[t * dout + o] ?? 0);
                for (var i = 0; i < din; i++) s += x[t * din + i] * w[o * din + i];
                y[t * dout + o] = s;
            }
        return y;
    }

    /// <summary>A GPT-2 block's forward: x + attn(ln1 x), then + mlp(ln2 .), with the weights of BlockWeights.</summary>
    public static double[] Block(float[] x, BlockWeights w, int tokens, int c, int f, int heads, int t)
    {
        static float[] F(double[] v) => v.Select(d => (float)d).ToArray();
        var xd = x.Select(v => (double)v).ToArray();
        var (ln1, _, _) = LayerNorm(x, w.Ln1W, w.Ln1B, tokens, c);
        var qkv = Product(ln1, w.QkvW, w.QkvB.Length > 0 ? w.QkvB : new float[3 * c], tokens, c, 3 * c);
        var (att, _) = Attention(F(qkv), null, tokens, c, heads, t);
        var r2 = Product(att, w.ProjW, w.ProjB.Length > 0 ? w.ProjB : new float[c], tokens, c, c, xd);
        var (ln2, _, _) = LayerNorm(F(r2), w.Ln2W, w.Ln2B, tokens, c);
        var h = Product(ln2, w.FcW, w.FcB, tokens, c, f).Select(Gelu).ToArray();
        return Product(h, w.FcprojW, w.FcprojB, tokens, f, c, r2);
    }
}

/// <summary>One block's weights (or gradients) in ParameterLayout's shapes (out x in matrices); QkvB and ProjB are empty
/// for a model without attention biases.</summary>
public sealed record BlockWeights(float[] Ln1W, float[] Ln1B, float[] QkvW, float[] QkvB, float[] ProjW, float[] ProjB,
    float[] Ln2W, float[] Ln2B, float[] FcW, float[] FcB, float[] FcprojW, float[] FcprojB)
{
    /// <summary>Zeros of the same shapes (a gradient).</summary>
    public BlockWeights ZerosLike() => new(Z(Ln1W), Z(Ln1B), Z(QkvW), Z(QkvB), Z(ProjW), Z(ProjB), Z(Ln2W), Z(Ln2B), Z(FcW), Z(FcB), Z(FcprojW), Z(FcprojB));
    private static float[] Z(float[] a) => new float[a.Length];

    /// <summary>The tensors by ParameterLayout's names (empty biases left out).</summary>
    public IEnumerable<(string Name, float[] Values)> Named()
    {
        (string, float[])[] all = [("ln1.w", Ln1W), ("ln1.b", Ln1B), ("qkv.w", QkvW), ("qkv.b", QkvB), ("attproj.w", ProjW), ("attproj.b", ProjB),
            ("ln2.w", Ln2W), ("ln2.b", Ln2B), ("fc.w", FcW), ("fc.b", FcB), ("fcproj.w", FcprojW), ("fcproj.b", FcprojB)];
        return all.Where(t => t.Item2.Length > 0);
    }

    /// <summary>Seeded weights of GPT-2's initialisation scale (0.02; LayerNorm gamma 1 +- 0.1).</summary>
    public static BlockWeights Random(int c, int f, long seed)
    {
        var rng = new Random((int)(seed * 7919 % int.MaxValue));
        float[] R(int count, double scale, double mean = 0) => Enumerable.Range(0, count).Select(_ => (float)(mean + (rng.NextDouble() * 2 - 1) * scale)).ToArray();
        return new(R(c, 0.1, 1), R(c, 0.1), R(3 * c * c, 0.05), R(3 * c, 0.02), R(c * c, 0.05), R(c, 0.02),
            R(c, 0.1, 1), R(c, 0.1), R(f * c, 0.05), R(f, 0.02), R(c * f, 0.05), R(c, 0.02));
    }
}

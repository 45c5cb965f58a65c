namespace Wafer.Kernels.Tests;

/// <summary>Float64 references for the layer program's phases, token-major (N tokens x width).</summary>
internal static class TransformerReference
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
}

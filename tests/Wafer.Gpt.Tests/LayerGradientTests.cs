using Wafer.Gpt.Layers;

namespace Wafer.Gpt.Tests;

/// <summary>Each layer's fp32 analytic gradients against central finite differences of a float64 reference of the
/// same layer, for the scalar L = sum(out * G) with a random G (so dout = G).</summary>
public class LayerGradientTests
{
    private static double[] Rand(int n, int seed, double scale = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (rng.NextDouble() * 2 - 1) * scale).ToArray();
    }

    private static float[] F(double[] x) => x.Select(v => (float)v).ToArray();

    /// <summary>Central differences of f at x (float64, h = 1e-5).</summary>
    private static double[] Numeric(Func<double[], double> f, double[] x)
    {
        var g = new double[x.Length];
        for (var i = 0; i < x.Length; i++)
        {
            var keep = x[i];
            x[i] = keep + 1e-5; var up = f(x);
            x[i] = keep - 1e-5; var down = f(x);
            x[i] = keep;
            g[i] = (up - down) / 2e-5;
        }
        return g;
    }

    private static void AssertClose(double[] expected, float[] actual, string what)
    {
        var scale = Math.Max(1e-3, expected.Max(Math.Abs));
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-3 * scale, $"{what}[{i}]: analytic {actual[i]}, numeric {expected[i]}");
    }

    [Fact]
    public void LayerNorm_GradientsMatchFiniteDifferences()
    {
        const int n = 3, c = 8;
        var x = Rand(n * c, 1); var w = Rand(c, 2); var b = Rand(c, 3); var g = Rand(n * c, 4);
        double Loss(double[] xs, double[] ws, double[] bs)
        {
            double total = 0;
            for (var i = 0; i < n; i++)
            {
                var row = xs.Skip(i * c).Take(c).ToArray();
                var m = row.Average();
                var v = row.Select(e => (e - m) * (e - m)).Average();
                var s = 1 / Math.Sqrt(v + LayerNorm.Eps);
                for (var j = 0; j < c; j++) total += ((row[j] - m) * s * ws[j] + bs[j]) * g[i * c + j];
            }
            return total;
        }
        var output = new float[n * c]; var mean = new float[n]; var rstd = new float[n];
        LayerNorm.Forward(output, mean, rstd, F(x), F(w), F(b), n, c, 2);
        var dx = new float[n * c]; var dw = new float[c]; var db = new float[c];
        LayerNorm.Backward(dx, dw, db, F(g), F(x), F(w), mean, rstd, n, c, 2);
        AssertClose(Numeric(xs => Loss(xs, w, b), x), dx, "dinp");
        AssertClose(Numeric(ws => Loss(x, ws, b), w), dw, "dweight");
        AssertClose(Numeric(bs => Loss(x, w, bs), b), db, "dbias");
    }

    [Theory]
    [InlineData(LayerNorm.InputGradient.Overwrite)]
    [InlineData(LayerNorm.InputGradient.OntoResidual)]
    [InlineData(LayerNorm.InputGradient.Accumulate)]
    public void LayerNorm_RowsTakenInPairs_EqualRowsTakenOneAtATime(LayerNorm.InputGradient mode)
    {
        // The forward takes rows in interleaved pairs with a single row left over, a one-row call the single-row path;
        // the backward sums dweight and dbias per part from zero, in row order. Both widths: C = 24 (vectors only) and
        // C = 13 (a scalar tail in every row).
        foreach (var c in new[] { 24, 13 })
        {
            const int n = 7;
            var x = F(Rand(n * c, 21, 3)); var w = F(Rand(c, 22)); var b = F(Rand(c, 23)); var dy = F(Rand(n * c, 24));
            var residual = mode == LayerNorm.InputGradient.OntoResidual ? F(Rand(n * c, 25)) : [];
            var start = mode == LayerNorm.InputGradient.Accumulate ? F(Rand(n * c, 26)) : new float[n * c];
            float[] y = new float[n * c], mean = new float[n], rstd = new float[n], dx = (float[])start.Clone(), dw = F(Rand(c, 27)), db = F(Rand(c, 28));
            LayerNorm.Forward(y, mean, rstd, x, w, b, n, c, 2);
            LayerNorm.Backward(dx, dw, db, dy, x, w, mean, rstd, n, c, 2, true, mode, residual);
            // dweight and dbias: Backward sums the rows' terms from zero in row order, then adds that sum to what they
            // hold; a one-row call that overwrites them gives one row's term exactly (0 + term).
            float[] y1 = new float[n * c], mean1 = new float[n], rstd1 = new float[n], dx1 = (float[])start.Clone(), dwSum = new float[c], dbSum = new float[c];
            for (var i = 0; i < n; i++)
            {
                var rows = new Range(i * c, (i + 1) * c);
                var dwRow = new float[c];
                var dbRow = new float[c];
                LayerNorm.Forward(y1.AsSpan(rows), mean1.AsSpan(i, 1), rstd1.AsSpan(i, 1), x.AsSpan(rows), w, b, 1, c, 2);
                LayerNorm.Backward(dx1.AsSpan(rows), dwRow, dbRow, dy.AsSpan(rows), x.AsSpan(rows), w, mean1.AsSpan(i, 1), rstd1.AsSpan(i, 1), 1, c, 2,
                    false, mode, residual.Length == 0 ? default : residual.AsSpan(rows));
                for (var j = 0; j < c; j++) { dwSum[j] += dwRow[j]; dbSum[j] += dbRow[j]; }
            }
            var dw1 = F(Rand(c, 27)).Select((v, j) => v + dwSum[j]).ToArray();
            var db1 = F(Rand(c, 28)).Select((v, j) => v + dbSum[j]).ToArray();
            Assert.Equal(y1, y);
            Assert.Equal(mean1, mean);
            Assert.Equal(rstd1, rstd);
            Assert.Equal(dx1, dx);
            Assert.Equal(dw1, dw);
            Assert.Equal(db1, db);
        }
    }

    [Fact]
    public void Gelu_GradientMatchesFiniteDifferences()
    {
        var x = Rand(40, 5, 3); var g = Rand(40, 6);
        double Loss(double[] xs) => xs.Select((v, i) => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))) * g[i]).Sum();
        var output = new float[40];
        var slope = F(x); // overwritten in place, as the trainer does with the fc output
        Gelu.Forward(output, slope, slope, 2);
        for (var i = 0; i < 40; i++) Assert.Equal(Loss(x.Select((v, j) => j == i ? v : 0).ToArray()) / g[i], output[i], 4);
        var dx = new float[40];
        Gelu.Backward(dx, slope, F(g), 2);
        AssertClose(Numeric(Loss, x), dx, "dinp");
    }

    [Fact]
    public void Gelu_EveryElementIsTheOneAtATimeFormula_WhicheverLoopTakesIt()
    {
        // 64 (four 512-bit vectors, where the CPU has them; else two rounds of the next loop) + 32 (four 256-bit vectors
        // interleaved) + 8 (one vector) + 3 (scalar tail), wide enough to reach tanh's clamp.
        const int n = 64 + 32 + 8 + 3;
        var x = Rand(n, 9).Select(v => (float)(v * 12)).ToArray();
        var output = new float[n];
        var slope = new float[n];
        Gelu.Forward(output, slope, x, 2);
        float s = MathF.Sqrt(2f / MathF.PI), cubic = 0.044715f;
        for (var i = 0; i < n; i++)
        {
            var v = x[i];
            var th = Wafer.Gpt.Numerics.FastMath.Tanh(s * (v + cubic * v * v * v));
            Assert.Equal(0.5f * v * (1f + th), output[i]);
            Assert.Equal(0.5f * (1f + th) + v * 0.5f * (1f - th * th) * s * (1f + 3f * cubic * v * v), slope[i]);
        }
    }

    [Theory]
    [InlineData(4)]
    [InlineData(37)] // seven row tiles of 6 (the last one partial), three key panels of 16 (the last one partial)
    public void CausalAttention_GradientsMatchFiniteDifferences(int t)
    {
        const int b = 2, c = 6, nh = 2, hs = c / nh;
        var inp = Rand(b * t * 3 * c, 7); var g = Rand(b * t * c, 8);
        double Loss(double[] x)
        {
            double total = 0;
            for (var bi = 0; bi < b; bi++)
                for (var ti = 0; ti < t; ti++)
                    for (var h = 0; h < nh; h++)
                    {
                        var scores = new double[ti + 1];
                        for (var t2 = 0; t2 <= ti; t2++)
                            for (var i = 0; i < hs; i++)
                                scores[t2] += x[bi * t * 3 * c + ti * 3 * c + h * hs + i] * x[bi * t * 3 * c + t2 * 3 * c + c + h * hs + i] / Math.Sqrt(hs);
                        var max = scores.Max();
                        var e = scores.Select(s => Math.Exp(s - max)).ToArray();
                        var sum = e.Sum();
                        for (var i = 0; i < hs; i++)
                        {
                            double o = 0;
                            for (var t2 = 0; t2 <= ti; t2++) o += e[t2] / sum * x[bi * t * 3 * c + t2 * 3 * c + 2 * c + h * hs + i];
                            total += o * g[bi * t * c + ti * c + h * hs + i];
                        }
                    }
            return total;
        }
        var output = new float[b * t * c]; var att = new float[CausalAttention.AttLength(b, t, nh)];
        CausalAttention.Forward(output, att, F(inp), b, t, c, nh, 2);
        var dinp = new float[inp.Length];
        CausalAttention.Backward(dinp, F(g), F(inp), att, b, t, c, nh, 2);
        AssertClose(Numeric(Loss, inp), dinp, "dqkv");
    }

    [Fact]
    public void SoftmaxCrossEntropy_GradientMatchesFiniteDifferences()
    {
        const int n = 3, v = 7, vp = 8;
        var logits = Rand(n * vp, 9, 2); var dloss = Rand(n, 10);
        int[] targets = [2, 0, 6];
        double Loss(double[] l)
        {
            double total = 0;
            for (var i = 0; i < n; i++)
            {
                var row = l.Skip(i * vp).Take(v).ToArray();
                var max = row.Max();
                var logSum = Math.Log(row.Sum(e => Math.Exp(e - max))) + max;
                total += (logSum - row[targets[i]]) * dloss[i];
            }
            return total;
        }
        var probs = new float[n * vp];
        CrossEntropy.SoftmaxForward(probs, F(logits), n, v, vp, 2);
        var losses = new float[n];
        CrossEntropy.LossForward(losses, probs, targets, n, vp);
        Assert.Equal(Loss(logits) , losses.Select((l, i) => (double)l * dloss[i]).Sum(), 4);
        var dlogits = new float[n * vp];
        CrossEntropy.Backward(dlogits, F(dloss), probs, targets, n, v, vp, 2);
        var numeric = Numeric(Loss, logits);
        AssertClose(numeric, dlogits, "dlogits");
        for (var i = 0; i < n; i++) Assert.Equal(0f, dlogits[i * vp + v]); // padded vocabulary entries get no gradient
    }

    [Fact]
    public void WeightGradients_OverwriteGivesTheAccumulatedIntoZeroSums()
    {
        // The trainer writes each weight gradient once (no clearing pass): overwriting a stale buffer must give exactly
        // what accumulating into zeros gives, and dinp must still accumulate. Shapes with a partial 6-row tile, a partial
        // 16-column panel and two K blocks (400 rows: more than the 384 Gemm does as one).
        const int rows = 400, c = 20, oc = 14;
        var dout = F(Rand(rows * oc, 11)); var inp = F(Rand(rows * c, 12));
        float[] Stale(int n) => Enumerable.Repeat(float.NaN, n).ToArray();
        var dw = new float[oc * c]; var db = new float[oc];
        Numerics.Linear.BackwardWeight(dw, db, dout, inp, rows, c, oc, 2);
        var dw2 = Stale(oc * c); var db2 = Stale(oc);
        Numerics.Linear.BackwardWeight(dw2, db2, dout, inp, rows, c, oc, 2, accumulate: false);
        Assert.Equal(dw, dw2);
        Assert.Equal(db, db2);

        var x = F(Rand(rows * c, 13)); var w = F(Rand(c, 14)); var b = F(Rand(c, 15)); var g = F(Rand(rows * c, 16));
        var output = new float[rows * c]; var mean = new float[rows]; var rstd = new float[rows];
        LayerNorm.Forward(output, mean, rstd, x, w, b, rows, c, 2);
        var dxBefore = F(Rand(rows * c, 17));
        var dx = (float[])dxBefore.Clone(); var lw = new float[c]; var lb = new float[c];
        LayerNorm.Backward(dx, lw, lb, g, x, w, mean, rstd, rows, c, 2);
        var dx2 = (float[])dxBefore.Clone(); var lw2 = Stale(c); var lb2 = Stale(c);
        LayerNorm.Backward(dx2, lw2, lb2, g, x, w, mean, rstd, rows, c, 2, accumulateWeights: false);
        Assert.Equal(dx, dx2);
        Assert.Equal(lw, lw2);
        Assert.Equal(lb, lb2);
        Assert.NotEqual(dxBefore, dx); // dinp accumulated onto what it held

        // dinp written over a stale buffer: onto a residual's gradient (= copying it in, then accumulating) or onto zero
        // (= clearing, then accumulating), bit for bit; the weight gradients the same either way.
        var dx3 = Stale(rows * c); var lw3 = Stale(c); var lb3 = Stale(c);
        LayerNorm.Backward(dx3, lw3, lb3, g, x, w, mean, rstd, rows, c, 2, accumulateWeights: false, LayerNorm.InputGradient.OntoResidual, dxBefore);
        Assert.Equal(dx, dx3);
        Assert.Equal(lw, lw3);
        var dxZero = new float[rows * c];
        LayerNorm.Backward(dxZero, new float[c], new float[c], g, x, w, mean, rstd, rows, c, 2);
        var dx4 = Stale(rows * c);
        LayerNorm.Backward(dx4, Stale(c), Stale(c), g, x, w, mean, rstd, rows, c, 2, accumulateWeights: false, LayerNorm.InputGradient.Overwrite);
        Assert.Equal(dxZero, dx4);
        Assert.Contains(dx4, v => v != 0f);
        // A residual without OntoResidual (or the reverse) is a caller's mistake, not a silent choice.
        Assert.Throws<ArgumentException>(() => LayerNorm.Backward(dx4, lw3, lb3, g, x, w, mean, rstd, rows, c, 2, true, LayerNorm.InputGradient.OntoResidual));
        Assert.Throws<ArgumentException>(() => LayerNorm.Backward(dx4, lw3, lb3, g, x, w, mean, rstd, rows, c, 2, true, LayerNorm.InputGradient.Accumulate, dxBefore));
    }
}

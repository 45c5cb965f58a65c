using Wafer.Gpt.Layers;
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Tests;

/// <summary>The attention kernel against a float64 reference of the same forward and analytic backward, on shapes whose
/// head sizes fill whole 16-channel panels (32, 64) and ones that do not (20, 3), with row counts that leave partial
/// 6-row tiles and 16-key panels. (LayerGradientTests checks the backward against finite differences on small shapes.)</summary>
public class CausalAttentionTests
{
    private static float[] Rand(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    /// <summary>out, att, dinp in float64, written out loop by loop (llm.c's attention_forward/backward).</summary>
    private static (double[] Out, double[] Att, double[] Dinp) Reference(float[] inp, float[] dout, int b, int t, int c, int nh)
    {
        int c3 = 3 * c, hs = c / nh;
        var scale = 1 / Math.Sqrt(hs);
        var output = new double[b * t * c]; var att = new double[b * nh * t * t]; var dinp = new double[b * t * c3];
        for (var bi = 0; bi < b; bi++)
            for (var h = 0; h < nh; h++)
                for (var i = 0; i < t; i++)
                {
                    int qi = bi * t * c3 + i * c3 + h * hs, a0 = ((bi * nh + h) * t + i) * t, oi = (bi * t + i) * c + h * hs;
                    double Key(int j, int d) => inp[bi * t * c3 + j * c3 + c + h * hs + d];
                    double Value(int j, int d) => inp[bi * t * c3 + j * c3 + 2 * c + h * hs + d];
                    var s = new double[i + 1];
                    for (var j = 0; j <= i; j++)
                        for (var d = 0; d < hs; d++) s[j] += inp[qi + d] * Key(j, d) * scale;
                    var max = s.Max();
                    var e = s.Select(x => Math.Exp(x - max)).ToArray();
                    var sum = e.Sum();
                    for (var j = 0; j <= i; j++) att[a0 + j] = e[j] / sum;
                    for (var d = 0; d < hs; d++)
                        for (var j = 0; j <= i; j++) output[oi + d] += att[a0 + j] * Value(j, d);
                    // backward of this row
                    var da = new double[i + 1];
                    for (var j = 0; j <= i; j++)
                        for (var d = 0; d < hs; d++)
                        {
                            da[j] += dout[oi + d] * Value(j, d);
                            dinp[bi * t * c3 + j * c3 + 2 * c + h * hs + d] += att[a0 + j] * dout[oi + d];
                        }
                    var weighted = 0.0;
                    for (var j = 0; j <= i; j++) weighted += att[a0 + j] * da[j];
                    for (var j = 0; j <= i; j++)
                    {
                        var ds = att[a0 + j] * (da[j] - weighted) * scale;
                        for (var d = 0; d < hs; d++)
                        {
                            dinp[qi + d] += ds * Key(j, d);
                            dinp[bi * t * c3 + j * c3 + c + h * hs + d] += ds * inp[qi + d];
                        }
                    }
                }
        return (output, att, dinp);
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = Math.Max(1e-3, expected.Max(Math.Abs));
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * scale, $"{what}[{i}]: kernel {actual[i]}, reference {expected[i]}");
    }

    [Theory]
    [InlineData(2, 70, 64, 2)]  // HS 32: whole channel panels; 12 row tiles (the last of 4 rows), 5 key panels (the last of 6)
    [InlineData(1, 64, 128, 2)] // HS 64, T a multiple of 16 but not of 6
    [InlineData(2, 13, 40, 2)]  // HS 20: a partial channel panel
    [InlineData(3, 6, 9, 3)]    // HS 3, one row tile
    [InlineData(1, 1, 4, 1)]    // one token
    public void MatchesFloat64Reference(int b, int t, int c, int nh)
    {
        var inp = Rand(b * t * 3 * c, 1);
        var dout = Rand(b * t * c, 2);
        var (refOut, refAtt, refDinp) = Reference(inp, dout, b, t, c, nh);
        var output = new float[b * t * c];
        var att = Rand((int)CausalAttention.AttLength(b, t, nh), 3); // stale values: every element read must be written
        CausalAttention.Forward(output, att, inp, b, t, c, nh, 2);
        AssertClose(refOut, output, 1e-5, "out");
        // The saved softmax in its padded layout: T x T of each head, zeros above the diagonal.
        int rows = CausalAttention.AttRows(t), stride = CausalAttention.AttStride(t);
        var heads = new float[b * nh * t * t];
        for (var bh = 0; bh < b * nh; bh++)
            for (var i = 0; i < t; i++)
                for (var j = 0; j < t; j++) heads[(bh * t + i) * t + j] = att[(bh * rows + i) * stride + j];
        AssertClose(refAtt, heads, 1e-5, "att");
        var dinp = Rand(inp.Length, 4); // overwritten, not accumulated
        CausalAttention.Backward(dinp, dout, inp, att, b, t, c, nh, 2);
        AssertClose(refDinp, dinp, 1e-5, "dinp");
    }

    /// <summary>The kernel's forward then backward into fresh buffers: (output, saved softmax, dinp).</summary>
    private static (float[], float[], float[]) ForwardBackward(float[] inp, float[] dout, int b, int t, int c, int nh, int threads = 2, bool? wide = null)
    {
        var output = new float[b * t * c]; var att = new float[CausalAttention.AttLength(b, t, nh)]; var dinp = new float[inp.Length];
        CausalAttention.Forward(output, att, inp, b, t, c, nh, threads, wide ?? Gemm.Wide);
        CausalAttention.Backward(dinp, dout, inp, att, b, t, c, nh, threads, wide ?? Gemm.Wide);
        return (output, att, dinp);
    }

    [Fact]
    public void SameBitsOnOneAndTwoThreads()
    {
        const int b = 4, t = 40, c = 64, nh = 4;
        var inp = Rand(b * t * 3 * c, 5);
        var dout = Rand(b * t * c, 6);
        (float[], float[]) Run(int threads)
        {
            var (output, _, dinp) = ForwardBackward(inp, dout, b, t, c, nh, threads);
            return (output, dinp);
        }
        var (o1, d1) = Run(1);
        var (o2, d2) = Run(2);
        Assert.Equal(o1, o2);
        Assert.Equal(d1, d2);
    }

    [Avx512Theory]
    [InlineData(2, 70, 64, 2)]  // HS 32: one pair of channel panels; 5 key panels (two pairs and a single)
    [InlineData(1, 64, 192, 3)] // HS 64: two pairs of channel panels
    [InlineData(2, 13, 40, 2)]  // HS 20: a partial channel panel (the scratch path)
    public void SameBitsWithAndWithoutThe512BitKernel(int b, int t, int c, int nh)
    {
        var inp = Rand(b * t * 3 * c, 7);
        var dout = Rand(b * t * c, 8);
        (float[], float[], float[]) Run(bool wide) => ForwardBackward(inp, dout, b, t, c, nh, wide: wide);
        var narrow = Run(false);
        var wide = Run(true);
        Assert.Equal(narrow.Item1, wide.Item1);
        Assert.Equal(narrow.Item2, wide.Item2);
        Assert.Equal(narrow.Item3, wide.Item3);
        Assert.Contains(wide.Item3, v => v != 0);
    }

    [Fact]
    public void RejectsAHeadCountThatDoesNotDivideTheChannels()
    {
        var e = Assert.Throws<ArgumentException>(() => CausalAttention.Forward(new float[60], new float[1000], new float[180], 1, 5, 12, 5, 2));
        Assert.Contains("NH 5", e.Message);
    }
}

using System.Runtime.Intrinsics;
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Tests;

public class FastMathTests
{
    private static float[] Exp(float[] x)
    {
        var y = new float[x.Length];
        for (var i = 0; i < x.Length; i += 8) FastMath.Exp(Vector256.Create(x, i)).CopyTo(y, i);
        return y;
    }

    [Fact]
    public void ExpIsWithinThreeUlpOfExpOverTheNormalRange()
    {
        var x = Enumerable.Range(0, 80_000).Select(i => -87.3f + i * (175.3f / 80_000)).ToArray();
        var y = Exp(x);
        var worst = 0.0;
        for (var i = 0; i < x.Length; i++)
        {
            var exact = Math.Exp(x[i]);
            worst = Math.Max(worst, Math.Abs(y[i] - exact) / exact);
        }
        Assert.True(worst <= 3 * 5.96e-8, $"worst relative error {worst:E3}");
    }

    [Fact]
    public void ExpIsExactAtZeroZeroBelowTheNormalRangeAndFiniteAbove()
    {
        var y = Exp([0f, -87.5f, -200f, float.NegativeInfinity, 88f, 100f, 1e30f, 1f]);
        Assert.Equal(1f, y[0]);
        Assert.Equal(0f, y[1]);
        Assert.Equal(0f, y[2]);
        Assert.Equal(0f, y[3]);
        Assert.True(float.IsFinite(y[4]) && y[4] > 1e38f, $"e^88 gave {y[4]}");
        Assert.Equal(y[4], y[5]);
        Assert.Equal(y[4], y[6]);
        Assert.Equal(MathF.E, y[7], 6);
    }

    [Fact]
    public void TanhIsWithin3e7OfTanhAndSaturates()
    {
        var x = Enumerable.Range(0, 80_000).Select(i => -10f + i * (20f / 80_000)).Append(1e-30f).Append(-3e-8f).Append(50f).Append(-1e30f).ToArray();
        var padded = x.Concat(new float[8 - x.Length % 8]).ToArray();
        var y = new float[padded.Length];
        for (var i = 0; i < padded.Length; i += 8) FastMath.Tanh(Vector256.Create(padded, i)).CopyTo(y, i);
        for (var i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(y[i] - Math.Tanh(x[i])) <= 3e-7 * Math.Max(1e-30, Math.Abs(Math.Tanh(x[i]))) + 1e-37, $"tanh({x[i]}) = {y[i]}, expected {Math.Tanh(x[i])}");
        Assert.Equal(y[5], FastMath.Tanh(x[5]));
    }

    [Fact]
    public void Tanh2GivesEachVectorExactlyWhatTanhGives()
    {
        var rng = new Random(5);
        for (var trial = 0; trial < 2000; trial++)
        {
            var xa = Enumerable.Range(0, 8).Select(_ => (float)((rng.NextDouble() - 0.5) * (trial % 3 == 0 ? 30 : 6))).ToArray();
            var xb = Enumerable.Range(0, 8).Select(_ => (float)((rng.NextDouble() - 0.5) * 6)).ToArray();
            var a = Vector256.Create(xa);
            var b = Vector256.Create(xb);
            FastMath.Tanh2(ref a, ref b);
            Assert.Equal(FastMath.Tanh(Vector256.Create(xa)), a);
            Assert.Equal(FastMath.Tanh(Vector256.Create(xb)), b);
        }
    }
}

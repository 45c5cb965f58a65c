using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Tests;

public class GemmTests
{
    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    /// <summary>Checks C against a float64 reference with a bound that scales with sum |a b|.</summary>
    private static void AssertClose(int m, int n, int k, Func<int, int, float> a, Func<int, int, float> b, float[] c, int ldc, float[]? before = null)
    {
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                double sum = before?[i * ldc + j] ?? 0, mag = Math.Abs(sum);
                for (var p = 0; p < k; p++) { var t = (double)a(i, p) * b(p, j); sum += t; mag += Math.Abs(t); }
                Assert.True(Math.Abs(c[i * ldc + j] - sum) <= 1e-6 * mag + 1e-30, $"C[{i},{j}] = {c[i * ldc + j]}, expected {sum}");
            }
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(7, 13, 5)]
    [InlineData(6, 16, 256)]
    [InlineData(37, 50, 300)]
    [InlineData(12, 33, 513)]
    [InlineData(64, 128, 96)]
    [InlineData(8, 20, 40)]   // transposed A of 8 rows: one tile packed by vector, one by the scalar edge
    [InlineData(14, 17, 260)] // two vector tiles and a 2-row edge tile, one K block (up to 384 deep)
    [InlineData(14, 17, 400)] // the same in two K blocks (256 + 144)
    [InlineData(20, 40, 384)] // the deepest single K block (a nano shard's weight gradients)
    [InlineData(14, 277, 400)] // an edge tile packed once per panel group and K block: 18 panels (two groups), two K blocks
    [InlineData(14, 300, 2000)] // a large B (k n > RowSplitMaxB): the next K block's lines prefetched during each block
    [InlineData(48, 20, 30)]  // transposed A: one group of eight tiles ending at A's last column
    [InlineData(101, 19, 400)] // two groups in each of two K blocks, then single tiles and a 5-row edge tile
    [InlineData(54, 9, 2)]    // a group with kc = 2: one 8-wide step, then the exact last k
    public void Multiply_AllLayouts_MatchFloat64Reference(int m, int n, int k)
    {
        var a = Random(m * k, 1);
        var b = Random(k * n, 2);
        // A row-major, B row-major.
        var c = new float[m * n];
        Gemm.Multiply(m, n, k, a, k, 1, b, n, 1, c, n, accumulate: false, 2);
        AssertClose(m, n, k, (i, p) => a[i * k + p], (p, j) => b[p * n + j], c, n);
        // A transposed in memory (k x m), B transposed (n x k), accumulating onto existing C.
        var before = Random(m * n, 3);
        var c2 = (float[])before.Clone();
        Gemm.Multiply(m, n, k, a, 1, m, b, 1, k, c2, n, accumulate: true, 2);
        AssertClose(m, n, k, (i, p) => a[p * m + i], (p, j) => b[j * k + p], c2, n, before);
    }

    [Fact]
    public void Multiply_IsBitwiseIdenticalAtAnyThreadCount()
    {
        const int m = 96, n = 200, k = 300;
        var a = Random(m * k, 4);
        var b = Random(k * n, 5);
        var one = new float[m * n];
        Gemm.Multiply(m, n, k, a, k, 1, b, n, 1, one, n, false, 1);
        var two = new float[m * n];
        Gemm.Multiply(m, n, k, a, k, 1, b, n, 1, two, n, false, 2);
        Assert.Equal(one, two);
        // A transposed (a weight gradient's layout), tall enough to be split by rows on two threads.
        const int tall = 400;
        var at = Random(tall * k, 6);
        var oneT = new float[tall * n];
        Gemm.Multiply(tall, n, k, at, 1, tall, b, n, 1, oneT, n, false, 1);
        var twoT = new float[tall * n];
        Gemm.Multiply(tall, n, k, at, 1, tall, b, n, 1, twoT, n, false, 2);
        Assert.Equal(oneT, twoT);
    }

    [Theory]
    [InlineData(400, 200, 300, 2 * 1024 * 1024)] // rows split over threads, bias in the first K block's store
    [InlineData(400, 37, 300, 12 * 1024)]        // packed A capped: rows done in bands of 96, each repacking B
    public void Multiply_WithBias_MatchesReferenceAndIsThreadIndependent(int m, int n, int k, int maxPackedA)
    {
        var a = Random(m * k, 11);
        var b = Random(k * n, 12);
        var bias = Random(n, 13);
        var one = new float[m * n];
        Gemm.Multiply(m, n, k, a, k, 1, b, 1, k, one, n, false, bias, [], Gemm.TileOperand.Addend, 1, maxPackedA, Gemm.Wide);
        var two = new float[m * n];
        Gemm.Multiply(m, n, k, a, k, 1, b, 1, k, two, n, false, bias, [], Gemm.TileOperand.Addend, 2, maxPackedA, Gemm.Wide);
        Assert.Equal(one, two);
        var withoutBias = two.Select((v, i) => v - bias[i % n]).ToArray();
        AssertClose(m, n, k, (i, p) => a[i * k + p], (p, j) => b[j * k + p], withoutBias, n);
    }

    [Theory]
    [InlineData(14, 37, 128, Gemm.TileOperand.Multiplier)]  // edge rows and columns, one K block
    [InlineData(14, 37, 400, Gemm.TileOperand.Multiplier)]  // two K blocks: the operand applies to the whole sum only
    [InlineData(400, 64, 128, Gemm.TileOperand.Multiplier)] // rows split over two threads
    [InlineData(14, 37, 128, Gemm.TileOperand.Addend)]
    [InlineData(14, 37, 400, Gemm.TileOperand.Addend)]      // (bias + the whole sum) + addend
    [InlineData(400, 64, 128, Gemm.TileOperand.Addend)]
    [InlineData(5, 20, 0, Gemm.TileOperand.Addend)]         // no K: bias + addend
    public void Multiply_WithATileOperand_EqualsTheProductThenTheElementwiseOperation(int m, int n, int k, Gemm.TileOperand kind)
    {
        const int ldc = 70; // wider than n: the operand shares C's leading dimension
        var add = kind == Gemm.TileOperand.Addend;
        var a = Random(m * Math.Max(k, 1), 21);
        var b = Random(Math.Max(k, 1) * n, 22);
        var bias = add ? Random(n, 24) : []; // a multiplier takes no bias
        var operand = Random(m * ldc, 23);
        foreach (var threads in new[] { 1, 2 })
        {
            var plain = new float[m * ldc];
            Gemm.Multiply(m, n, k, a, k, 1, b, n, 1, plain, ldc, false, bias, threads);
            var fused = Enumerable.Repeat(float.NaN, m * ldc).ToArray(); // every element of C written, none read
            if (add) Gemm.Multiply(m, n, k, a, k, 1, b, n, 1, fused, ldc, false, bias, operand, kind, threads);
            else Gemm.Multiply(m, n, k, a, k, 1, b, n, 1, fused, ldc, false, [], operand, threads);
            for (var i = 0; i < m; i++)
                for (var j = 0; j < n; j++)
                    Assert.Equal(add ? plain[i * ldc + j] + operand[i * ldc + j] : operand[i * ldc + j] * plain[i * ldc + j], fused[i * ldc + j]);
            Assert.True(float.IsNaN(fused[ldc - 1]), "columns past n are left alone");
        }
        var c = new float[m * ldc];
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(m, n, k, a, k, 1, b, n, 1, c, ldc, true, [], operand, kind, 1)); // accumulating
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(m, n, k, a, k, 1, b, n, 1, c, ldc, false, bias, c, kind, 1)); // in place
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(m, n, k, a, k, 1, b, n, 1, c, ldc, false, bias, operand.AsSpan(0, (m - 1) * ldc + n - 1), kind, 1));
        if (!add) Assert.Throws<ArgumentException>(() => Gemm.Multiply(m, n, k, a, k, 1, b, n, 1, c, ldc, false, Random(n, 25), operand, 1));
    }

    [Avx512Theory]
    [InlineData(37, 50, 300)]   // a pair of panels, a single whole panel, an edge panel; edge rows
    [InlineData(96, 128, 128)]  // four pairs, one K block
    [InlineData(14, 300, 2000)] // a large B (next K block prefetched, issued twice a pair tile), several K blocks
    [InlineData(101, 80, 400)]  // transposed A packed in groups; two pairs and a single panel per block
    public void Multiply_WideKernel_IsBitIdenticalToThe256BitKernel(int m, int n, int k)
    {
        var a = Random(m * k, 31);
        var b = Random(k * n, 32);
        var bias = Random(n, 33);
        var operand = Random(m * n, 34);
        var start = Random(m * n, 35);
        float[] Run(bool wide, Func<float[], bool, float[]> product) => product((float[])start.Clone(), wide);
        const int cap = Gemm.MaxPackedA;
        const Gemm.TileOperand add = Gemm.TileOperand.Addend, mul = Gemm.TileOperand.Multiplier;
        var products = new Func<float[], bool, float[]>[]
        {
            (c, w) => { Gemm.Multiply(m, n, k, a, k, 1, b, n, 1, c, n, false, [], [], add, 2, cap, w); return c; },        // A read in place
            (c, w) => { Gemm.Multiply(m, n, k, a, 1, m, b, 1, k, c, n, true, [], [], add, 2, cap, w); return c; },         // both transposed, accumulating
            (c, w) => { Gemm.Multiply(m, n, k, a, k, 1, b, 1, k, c, n, false, bias, [], add, 1, cap, w); return c; },      // bias
            (c, w) => { Gemm.Multiply(m, n, k, a, k, 1, b, n, 1, c, n, false, [], operand, mul, 1, cap, w); return c; },   // multiplier
            (c, w) => { Gemm.Multiply(m, n, k, a, k, 1, b, n, 1, c, n, false, bias, operand, add, 2, cap, w); return c; },
        };
        foreach (var product in products)
        {
            var narrow = Run(false, product);
            var wide = Run(true, product);
            Assert.Equal(narrow, wide);
            Assert.NotEqual(start, wide); // the product was written
        }
    }

    [Fact]
    public void Multiply_TooSmallBuffers_AreRejected()
    {
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(4, 4, 4, new float[15], 4, 1, new float[16], 4, 1, new float[16], 4, false, 2));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(4, 4, 4, new float[16], 4, 1, new float[16], 4, 1, new float[15], 4, false, 2));
    }

    [Fact]
    public void Linear_ForwardAndBothBackwardProducts_MatchReference()
    {
        const int bt = 10, c = 24, oc = 40;
        var inp = Random(bt * c, 6);
        var w = Random(oc * c, 7);
        var bias = Random(oc, 8);
        var dout = Random(bt * oc, 9);
        var output = new float[bt * oc];
        Linear.Forward(output, inp, w, bias, bt, c, oc, 2);
        var withBias = output.Select((v, i) => v - bias[i % oc]).ToArray();
        AssertClose(bt, oc, c, (i, p) => inp[i * c + p], (p, j) => w[j * c + p], withBias, oc);

        var dinp = new float[bt * c];
        Linear.BackwardInput(dinp, dout, w, bt, c, oc, 2);
        AssertClose(bt, c, oc, (i, p) => dout[i * oc + p], (p, j) => w[p * c + j], dinp, c);

        var dw = new float[oc * c];
        var db = new float[oc];
        Linear.BackwardWeight(dw, db, dout, inp, bt, c, oc, 2);
        AssertClose(oc, c, bt, (i, p) => dout[p * oc + i], (p, j) => inp[p * c + j], dw, c);
        for (var o = 0; o < oc; o++) Assert.Equal(Enumerable.Range(0, bt).Sum(i => (double)dout[i * oc + o]), db[o], 4);
    }
}

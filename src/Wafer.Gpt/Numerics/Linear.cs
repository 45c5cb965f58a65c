// The three products of a linear layer in llm.c's layout (weight is OC x C, row-major), built on Gemm.
// Shapes: inp (BT, C), weight (OC, C), bias (OC), out (BT, OC).
using System.Runtime.Intrinsics;

namespace Wafer.Gpt.Numerics;

public static unsafe class Linear
{
    /// <summary>out = inp · weightᵀ + bias (bias may be empty), then + residual (BT, OC) when given: a residual
    /// connection added as each tile is stored, (inp · weightᵀ + bias) + residual, without a pass of its own.</summary>
    public static void Forward(Span<float> output, ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int bt, int c, int oc,
        int threads, ReadOnlySpan<float> residual = default) =>
        Gemm.Multiply(bt, oc, c, inp, c, 1, weight, 1, c, output, oc, accumulate: false, bias, residual, Gemm.TileOperand.Addend, threads);

    /// <summary>dinp += dout · weight, or dinp = dout · weight when not accumulating (the first gradient to reach dinp:
    /// no clearing pass over it); with a slope (BT, C), dinp = slope ⊙ (dout · weight), the gradient through an
    /// elementwise function before this layer (GELU's saved derivative) applied as each tile is stored.</summary>
    public static void BackwardInput(Span<float> dinp, ReadOnlySpan<float> dout, ReadOnlySpan<float> weight, int bt, int c, int oc, int threads,
        bool accumulate = true, ReadOnlySpan<float> slope = default) =>
        Gemm.Multiply(bt, c, oc, dout, oc, 1, weight, c, 1, dinp, c, accumulate, [], slope, threads);

    /// <summary>dweight += doutᵀ · inp, and dbias += the column sums of dout (when dbias is not empty); with accumulate
    /// false both are overwritten instead (the same sums, no clearing pass over the gradient buffer first).</summary>
    public static void BackwardWeight(Span<float> dweight, Span<float> dbias, ReadOnlySpan<float> dout, ReadOnlySpan<float> inp, int bt, int c, int oc,
        int threads, bool accumulate = true)
    {
        Gemm.Multiply(oc, c, bt, dout, 1, oc, inp, c, 1, dweight, c, accumulate, threads);
        if (dbias.IsEmpty) return;
        if (dbias.Length < oc) throw new ArgumentException($"dbias has {dbias.Length} elements for {oc} outputs");
        // Column sums split by columns (each part sums its columns over all rows, in row order): any thread count
        // gives the same sums.
        fixed (float* pd = dbias, po = dout)
        {
            nint d = (nint)pd, o = (nint)po;
            Chunks.Run(oc, BiasColumnsPerPart, threads, (_, s, e) => ColumnSums((float*)d + s, (float*)o + s, oc, bt, e - s, accumulate));
        }
    }

    /// <summary>db[j] (+)= sum over rows i of dout[i * ld + j] for j below width, each column summed in row order from
    /// db[j] (or from 0 when not accumulating): 64 columns at a time are held in eight registers across all rows, where
    /// adding row by row into db loaded and stored it once per row.</summary>
    private static void ColumnSums(float* db, float* dout, int ld, int rows, int width, bool accumulate)
    {
        var j = 0;
        for (; j + 64 <= width; j += 64)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            var b = db + j;
            if (accumulate)
            {
                s0 = Vector256.Load(b); s1 = Vector256.Load(b + 8); s2 = Vector256.Load(b + 16); s3 = Vector256.Load(b + 24);
                s4 = Vector256.Load(b + 32); s5 = Vector256.Load(b + 40); s6 = Vector256.Load(b + 48); s7 = Vector256.Load(b + 56);
            }
            for (var i = 0; i < rows; i++)
            {
                var r = dout + (long)i * ld + j;
                s0 += Vector256.Load(r); s1 += Vector256.Load(r + 8); s2 += Vector256.Load(r + 16); s3 += Vector256.Load(r + 24);
                s4 += Vector256.Load(r + 32); s5 += Vector256.Load(r + 40); s6 += Vector256.Load(r + 48); s7 += Vector256.Load(r + 56);
            }
            s0.Store(b); s1.Store(b + 8); s2.Store(b + 16); s3.Store(b + 24);
            s4.Store(b + 32); s5.Store(b + 40); s6.Store(b + 48); s7.Store(b + 56);
        }
        for (; j < width; j++)
        {
            var sum = accumulate ? db[j] : 0f;
            for (var i = 0; i < rows; i++) sum += dout[(long)i * ld + j];
            db[j] = sum;
        }
    }

    /// <summary>Columns per part of the bias gradient's sums (a part sums bt rows of them).</summary>
    private const int BiasColumnsPerPart = 64;
}

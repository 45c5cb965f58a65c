// The three products of a linear layer in llm.c's layout (weight is OC x C, row-major), built on Gemm.
// Shapes: inp (BT, C), weight (OC, C), bias (OC), out (BT, OC).
namespace Wafer.Gpt.Numerics;

public static unsafe class Linear
{
    /// <summary>out = inp · weightᵀ + bias (bias may be empty).</summary>
    public static void Forward(Span<float> output, ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int bt, int c, int oc)
    {
        Gemm.Multiply(bt, oc, c, inp, c, 1, weight, 1, c, output, oc, accumulate: false, bias, Gemm.Threads);
    }

    /// <summary>dinp += dout · weight, or dinp = dout · weight when not accumulating (the first gradient to reach dinp:
    /// no clearing pass over it).</summary>
    public static void BackwardInput(Span<float> dinp, ReadOnlySpan<float> dout, ReadOnlySpan<float> weight, int bt, int c, int oc, bool accumulate = true) =>
        Gemm.Multiply(bt, c, oc, dout, oc, 1, weight, c, 1, dinp, c, accumulate);

    /// <summary>dweight += doutᵀ · inp, and dbias += the column sums of dout (when dbias is not empty); with accumulate
    /// false both are overwritten instead (the same sums, no clearing pass over the gradient buffer first).</summary>
    public static void BackwardWeight(Span<float> dweight, Span<float> dbias, ReadOnlySpan<float> dout, ReadOnlySpan<float> inp, int bt, int c, int oc,
        bool accumulate = true)
    {
        Gemm.Multiply(oc, c, bt, dout, 1, oc, inp, c, 1, dweight, c, accumulate);
        if (dbias.IsEmpty) return;
        if (dbias.Length < oc) throw new ArgumentException($"dbias has {dbias.Length} elements for {oc} outputs");
        // Column sums split by columns (each part sums its columns over all rows, in row order): any thread count
        // gives the same sums.
        fixed (float* pd = dbias, po = dout)
        {
            nint d = (nint)pd, o = (nint)po;
            Chunks.Run(oc, BiasColumnsPerPart, (_, s, e) =>
            {
                var db = new Span<float>((float*)d + s, e - s);
                if (!accumulate) db.Clear(); // then exactly the sums accumulating into zeros gave
                for (var i = 0; i < bt; i++) Vec.AddTo(db, new ReadOnlySpan<float>((float*)o + (long)i * oc + s, e - s));
            });
        }
    }

    /// <summary>Columns per part of the bias gradient's sums (a part sums bt rows of them).</summary>
    private const int BiasColumnsPerPart = 64;
}

// The three products of a linear layer in llm.c's layout (weight is OC x C, row-major), built on Gemm.
// Shapes: inp (BT, C), weight (OC, C), bias (OC), out (BT, OC).
namespace Wafer.Gpt.Numerics;

public static class Linear
{
    /// <summary>out = inp · weightᵀ + bias (bias may be empty).</summary>
    public static void Forward(Span<float> output, ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int bt, int c, int oc)
    {
        Gemm.Multiply(bt, oc, c, inp, c, 1, weight, 1, c, output, oc, accumulate: false);
        if (bias.IsEmpty) return;
        for (var i = 0; i < bt; i++) Vec.AddTo(output.Slice(i * oc, oc), bias);
    }

    /// <summary>dinp += dout · weight.</summary>
    public static void BackwardInput(Span<float> dinp, ReadOnlySpan<float> dout, ReadOnlySpan<float> weight, int bt, int c, int oc) =>
        Gemm.Multiply(bt, c, oc, dout, oc, 1, weight, c, 1, dinp, c, accumulate: true);

    /// <summary>dweight += doutᵀ · inp, and dbias += the column sums of dout (when dbias is not empty).</summary>
    public static void BackwardWeight(Span<float> dweight, Span<float> dbias, ReadOnlySpan<float> dout, ReadOnlySpan<float> inp, int bt, int c, int oc)
    {
        Gemm.Multiply(oc, c, bt, dout, 1, oc, inp, c, 1, dweight, c, accumulate: true);
        if (dbias.IsEmpty) return;
        for (var i = 0; i < bt; i++) Vec.AddTo(dbias, dout.Slice(i * oc, oc));
    }
}

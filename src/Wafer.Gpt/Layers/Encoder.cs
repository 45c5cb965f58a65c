// Token + learned position embedding, forward and backward (llm.c's encoder_forward/backward).
// Shapes: tokens (B, T); wte (Vp, C); wpe (maxT, C), empty for rotary models (no learned positions); out (B, T, C).
namespace Wafer.Gpt.Layers;

public static class Encoder
{
    public static void Forward(Span<float> output, ReadOnlySpan<int> tokens, ReadOnlySpan<float> wte, ReadOnlySpan<float> wpe, int b, int t, int c)
    {
        for (var bi = 0; bi < b; bi++)
            for (var ti = 0; ti < t; ti++)
            {
                var o = output.Slice((bi * t + ti) * c, c);
                var we = wte.Slice(tokens[bi * t + ti] * c, c);
                if (wpe.IsEmpty) { we.CopyTo(o); continue; }
                var pe = wpe.Slice(ti * c, c);
                for (var i = 0; i < c; i++) o[i] = we[i] + pe[i];
            }
    }

    public static void Backward(Span<float> dwte, Span<float> dwpe, ReadOnlySpan<float> dout, ReadOnlySpan<int> tokens, int b, int t, int c)
    {
        for (var bi = 0; bi < b; bi++)
            for (var ti = 0; ti < t; ti++)
            {
                var d = dout.Slice((bi * t + ti) * c, c);
                var dwe = dwte.Slice(tokens[bi * t + ti] * c, c);
                for (var i = 0; i < c; i++) dwe[i] += d[i];
                if (dwpe.IsEmpty) continue;
                var dpe = dwpe.Slice(ti * c, c);
                for (var i = 0; i < c; i++) dpe[i] += d[i];
            }
    }
}

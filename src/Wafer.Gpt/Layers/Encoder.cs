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
                Numerics.Vec.Add(o, we, wpe.Slice(ti * c, c));
            }
    }

    public static void Backward(Span<float> dwte, Span<float> dwpe, ReadOnlySpan<float> dout, ReadOnlySpan<int> tokens, int b, int t, int c)
    {
        for (var bi = 0; bi < b; bi++)
            for (var ti = 0; ti < t; ti++)
            {
                var d = dout.Slice((bi * t + ti) * c, c);
                // Elementwise, in (b, t) order per element as a scalar loop would: vectors change no sum.
                Numerics.Vec.AddTo(dwte.Slice(tokens[bi * t + ti] * c, c), d);
                if (!dwpe.IsEmpty) Numerics.Vec.AddTo(dwpe.Slice(ti * c, c), d);
            }
    }
}

// GELU with the tanh approximation (GPT-2's), forward and backward (llm.c's gelu_forward/backward). Shapes: (N).
namespace Wafer.Gpt.Layers;

public static class Gelu
{
    private static readonly float ScalingFactor = MathF.Sqrt(2f / MathF.PI);

    public static void Forward(Span<float> output, ReadOnlySpan<float> inp)
    {
        for (var i = 0; i < inp.Length; i++)
        {
            var x = inp[i];
            var cube = 0.044715f * x * x * x;
            output[i] = 0.5f * x * (1f + MathF.Tanh(ScalingFactor * (x + cube)));
        }
    }

    /// <summary>dinp += gelu'(inp) * dout.</summary>
    public static void Backward(Span<float> dinp, ReadOnlySpan<float> inp, ReadOnlySpan<float> dout)
    {
        for (var i = 0; i < inp.Length; i++)
        {
            var x = inp[i];
            var cube = 0.044715f * x * x * x;
            var tanhArg = ScalingFactor * (x + cube);
            var tanhOut = MathF.Tanh(tanhArg);
            var coshOut = MathF.Cosh(tanhArg);
            var sech2 = 1f / (coshOut * coshOut);
            var local = 0.5f * (1f + tanhOut) + x * 0.5f * sech2 * ScalingFactor * (1f + 3f * 0.044715f * x * x);
            dinp[i] += local * dout[i];
        }
    }
}

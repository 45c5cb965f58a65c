// The precision weights cross the MemoryX -> wafer link in. The wafer computes in fp32 from the rounded values (fp16/bf16
// weights, fp32 accumulation), while MemoryX keeps fp32 masters and applies the optimizer to them.
namespace Wafer.Gpt.Model;

public enum StreamPrecision { Fp32, Bf16, Fp16 }

internal static class StreamRounding
{
    public static int BytesPerWeight(StreamPrecision p) => p == StreamPrecision.Fp32 ? 4 : 2;

    /// <summary>Rounds each value to the nearest representable one (ties to even), in place.</summary>
    public static void Round(Span<float> values, StreamPrecision p)
    {
        switch (p)
        {
            case StreamPrecision.Bf16:
                for (var i = 0; i < values.Length; i++)
                {
                    var bits = BitConverter.SingleToUInt32Bits(values[i]);
                    if (float.IsNaN(values[i])) continue;
                    bits = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
                    values[i] = BitConverter.UInt32BitsToSingle(bits);
                }
                break;
            case StreamPrecision.Fp16:
                for (var i = 0; i < values.Length; i++) values[i] = (float)(Half)values[i];
                break;
        }
    }
}

// Reading data that is about to be used, in order, as one stream, so that it is in cache when it is used. For data out
// of cache (activations saved by the forward pass, read again by the backward) that the consumer reads in a strided
// pattern (attention's per-head slices of each row), the hardware prefetchers follow the consumer poorly,
// and every few lines wait on memory; a plain in-order read lets them stream it. Software prefetches issued alongside
// the consumer, and this read applied to a product's tile operand (GELU's slope), gained nothing and are not done
// (BENCHMARKS.md, Training).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Wafer.Gpt.Numerics;

internal static unsafe class CacheWarm
{
    /// <summary>Reads the floats from p up to count (rounded down to 32: the last few lines do not matter) in order;
    /// returns a sum nobody uses. Not inlined: a caller that drops the result cannot then let the JIT drop the reads.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float Range(float* p, long count)
    {
        Vector256<float> s0 = default, s1 = default;
        var i = 0L;
        for (; i + 32 <= count; i += 32)
        {
            s0 += Vector256.Load(p + i) + Vector256.Load(p + i + 8);
            s1 += Vector256.Load(p + i + 16) + Vector256.Load(p + i + 24);
        }
        return (s0 + s1).ToScalar();
    }

    /// <summary>Range over `runs` runs of `length` floats, run j at p + j * stride, one after the other.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float Runs(float* p, long stride, int runs, long length)
    {
        var sum = 0f;
        for (var j = 0; j < runs; j++) sum += Range(p + j * stride, length);
        return sum;
    }
}

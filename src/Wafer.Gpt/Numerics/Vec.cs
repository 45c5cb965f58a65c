// Small vector kernels (dot, axpy) on Vector256 with a scalar tail; fixed summation order, so results are reproducible.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Wafer.Gpt.Numerics;

public static class Vec
{
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        var n = x.Length;
        var i = 0;
        var acc = Vector256<float>.Zero;
        ref var rx = ref MemoryMarshal.GetReference(x);
        ref var ry = ref MemoryMarshal.GetReference(y);
        for (; i + 8 <= n; i += 8)
            acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref rx, (nuint)i), Vector256.LoadUnsafe(ref ry, (nuint)i), acc);
        var sum = Vector256.Sum(acc);
        for (; i < n; i++) sum += x[i] * y[i];
        return sum;
    }

    /// <summary>y += a * x.</summary>
    public static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        var n = x.Length;
        var i = 0;
        var va = Vector256.Create(a);
        ref var rx = ref MemoryMarshal.GetReference(x);
        ref var ry = ref MemoryMarshal.GetReference(y);
        for (; i + 8 <= n; i += 8)
            Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref rx, (nuint)i), Vector256.LoadUnsafe(ref ry, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        for (; i < n; i++) y[i] += a * x[i];
    }
}

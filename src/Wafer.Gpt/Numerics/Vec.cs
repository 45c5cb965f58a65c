// Small vector kernels on Vector256 with a scalar tail, elementwise (the same result as the scalar loop).
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Wafer.Gpt.Numerics;

public static class Vec
{
    /// <summary>y += x.</summary>
    public static void AddTo(Span<float> y, ReadOnlySpan<float> x)
    {
        var n = y.Length;
        if (x.Length < n) throw new ArgumentException($"x has {x.Length} elements, y {n}");
        var i = 0;
        ref var rx = ref MemoryMarshal.GetReference(x);
        ref var ry = ref MemoryMarshal.GetReference(y);
        for (; i + 8 <= n; i += 8)
            (Vector256.LoadUnsafe(ref ry, (nuint)i) + Vector256.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        for (; i < n; i++) y[i] += x[i];
    }

    /// <summary>z = x + y.</summary>
    public static void Add(Span<float> z, ReadOnlySpan<float> x, ReadOnlySpan<float> y) => Apply<Plus>(z, x, y);

    /// <summary>z = x * y.</summary>
    public static void Multiply(Span<float> z, ReadOnlySpan<float> x, ReadOnlySpan<float> y) => Apply<Times>(z, x, y);

    private interface IOperator
    {
        static abstract Vector256<float> Of(Vector256<float> x, Vector256<float> y);
        static abstract float Of(float x, float y);
    }

    private readonly struct Plus : IOperator
    {
        public static Vector256<float> Of(Vector256<float> x, Vector256<float> y) => x + y;
        public static float Of(float x, float y) => x + y;
    }

    private readonly struct Times : IOperator
    {
        public static Vector256<float> Of(Vector256<float> x, Vector256<float> y) => x * y;
        public static float Of(float x, float y) => x * y;
    }

    /// <summary>z[i] = x[i] op y[i], eight lanes at a time (specialised per operator by the JIT).</summary>
    private static void Apply<TOp>(Span<float> z, ReadOnlySpan<float> x, ReadOnlySpan<float> y) where TOp : struct, IOperator
    {
        var n = z.Length;
        if (x.Length < n || y.Length < n) throw new ArgumentException($"x, y have {x.Length}, {y.Length} elements, z {n}");
        var i = 0;
        ref var rx = ref MemoryMarshal.GetReference(x);
        ref var ry = ref MemoryMarshal.GetReference(y);
        ref var rz = ref MemoryMarshal.GetReference(z);
        for (; i + 8 <= n; i += 8)
            TOp.Of(Vector256.LoadUnsafe(ref rx, (nuint)i), Vector256.LoadUnsafe(ref ry, (nuint)i)).StoreUnsafe(ref rz, (nuint)i);
        for (; i < n; i++) z[i] = TOp.Of(x[i], y[i]);
    }
}

// The sitting's FMA ceiling: GFLOP/s of a loop of independent 256-bit FMAs (12 chains, nothing from memory) on one
// thread and on all, and of the same loop on 512-bit vectors where the CPU has AVX-512 (Gemm's wide kernel), so that a run's step times can be read against what the machine gave at that moment. This host's
// two vCPUs have measured ~90-93 GFLOP/s each alone and 175-180 together in some sittings, but 91-116 together in
// others (2026-11-27): then they share one core's FP pipes (SMT siblings or a co-tenant's thread) and every product
// runs at up to half speed, whatever the code does.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

static class FmaCeiling
{
    private const long Iterations = 30_000_000; // ~0.2 s a thread at ~90 GFLOP/s
    private const int FlopsPerIteration = 12 * 2 * 8; // 12 FMAs of 8 lanes, 2 FLOPs each

    /// <summary>GFLOP/s of the FMA loop run on one thread, and on `threads` threads at once (total); 512 bits wide when
    /// <paramref name="wide"/> (the CPU must have AVX-512).</summary>
    public static (double One, double All) Measure(int threads, bool wide = false)
    {
        Func<long, float> loop = wide ? Loop512 : Loop;
        loop(100_000); // tier up before timing
        var flops = wide ? 2 * FlopsPerIteration : FlopsPerIteration;
        var one = Rate(1, loop, flops);
        return (one, threads > 1 ? Rate(threads, loop, flops) : one);
    }

    private static double Rate(int threads, Func<long, float> loop, int flopsPerIteration)
    {
        var sw = Stopwatch.StartNew();
        var others = Enumerable.Range(1, threads - 1).Select(_ => new Thread(() => loop(Iterations))).ToList();
        others.ForEach(t => t.Start());
        loop(Iterations);
        others.ForEach(t => t.Join());
        return threads * Iterations * flopsPerIteration / sw.Elapsed.TotalSeconds / 1e9;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop512(long n)
    {
        var x = Vector512.Create(1.0000001f);
        var y = Vector512.Create(0.9999999f);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        Vector512<float> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(x, y, a0); a1 = Vector512.FusedMultiplyAdd(x, y, a1);
            a2 = Vector512.FusedMultiplyAdd(x, y, a2); a3 = Vector512.FusedMultiplyAdd(x, y, a3);
            a4 = Vector512.FusedMultiplyAdd(x, y, a4); a5 = Vector512.FusedMultiplyAdd(x, y, a5);
            a6 = Vector512.FusedMultiplyAdd(x, y, a6); a7 = Vector512.FusedMultiplyAdd(x, y, a7);
            a8 = Vector512.FusedMultiplyAdd(x, y, a8); a9 = Vector512.FusedMultiplyAdd(x, y, a9);
            a10 = Vector512.FusedMultiplyAdd(x, y, a10); a11 = Vector512.FusedMultiplyAdd(x, y, a11);
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).ToScalar();
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop(long n)
    {
        var x = Vector256.Create(1.0000001f);
        var y = Vector256.Create(0.9999999f);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        Vector256<float> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(x, y, a0); a1 = Vector256.FusedMultiplyAdd(x, y, a1);
            a2 = Vector256.FusedMultiplyAdd(x, y, a2); a3 = Vector256.FusedMultiplyAdd(x, y, a3);
            a4 = Vector256.FusedMultiplyAdd(x, y, a4); a5 = Vector256.FusedMultiplyAdd(x, y, a5);
            a6 = Vector256.FusedMultiplyAdd(x, y, a6); a7 = Vector256.FusedMultiplyAdd(x, y, a7);
            a8 = Vector256.FusedMultiplyAdd(x, y, a8); a9 = Vector256.FusedMultiplyAdd(x, y, a9);
            a10 = Vector256.FusedMultiplyAdd(x, y, a10); a11 = Vector256.FusedMultiplyAdd(x, y, a11);
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).ToScalar();
    }
}

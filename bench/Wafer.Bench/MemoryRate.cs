// The sitting's memory rates, one thread reading: a 4 MB buffer over and over (what this host's last-level cache gives
// when a co-tenant leaves room for it) and a 256 MB one (DRAM). On this host one thread read 40-70 GB/s from buffers up
// to 4 MB, 31-44 at 6-8 MB and 9-11 GB/s from 24 MB on (cyclic reads, 2026-11-27): the 32 MB L3 the VM reports is
// shared with co-tenants. A nano training step touches ~53 MB (the trainer's figures: the device holds 40.3 MB, saved activations
// ~29 MB of it; MemoryX 13.0 MB), so its saved activations and optimizer state stream from DRAM, and step times move
// with what the co-tenants leave of the cache and the memory bus as well as with the FMA ceiling.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

static class MemoryRate
{
    private const int CacheSizedBytes = 4 << 20;
    private const int DramSizedBytes = 256 << 20;

    /// <summary>GB/s (2^30 bytes) of one thread reading a cache-sized buffer and a DRAM-sized one.</summary>
    public static (double Cache, double Dram) Measure()
    {
        var small = Filled(CacheSizedBytes / sizeof(float));
        var large = Filled(DramSizedBytes / sizeof(float));
        Read(small, 2); // warm: tier up, pages touched, the small buffer cached
        Read(large, 1);
        return (Rate(small, 64), Rate(large, 2));
    }

    private static float[] Filled(int floats)
    {
        var a = new float[floats];
        Array.Fill(a, 1f);
        return a;
    }

    private static double Rate(float[] a, int passes)
    {
        var sw = Stopwatch.StartNew();
        Read(a, passes);
        return (double)passes * a.Length * sizeof(float) / (1 << 30) / sw.Elapsed.TotalSeconds;
    }

    /// <summary>Sums the buffer `passes` times, four 8-lane loads an iteration (returned so the loads are not removed).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe float Read(float[] a, int passes)
    {
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        fixed (float* p = a)
            for (var r = 0; r < passes; r++)
                for (var i = 0; i + 32 <= a.Length; i += 32)
                {
                    s0 += Vector256.Load(p + i); s1 += Vector256.Load(p + i + 8);
                    s2 += Vector256.Load(p + i + 16); s3 += Vector256.Load(p + i + 24);
                }
        return (s0 + s1 + s2 + s3).ToScalar();
    }
}

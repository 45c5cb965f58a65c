// Deterministic per-PE seeds (HashCode.Combine is randomised per process, so it must not seed data).
namespace Wafer.Kernels;

public static class Seeds
{
    /// <summary>A stable 31-bit seed for PE (x, y) under a run seed (SplitMix64 finaliser).</summary>
    public static int For(long seed, int x, int y)
    {
        var z = (ulong)seed * 0x9E3779B97F4A7C15UL + ((ulong)(uint)x << 32 | (uint)y);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }

    /// <summary>A value in [0, 1) from (seed, a, b): data generated where it is needed, without holding a whole tensor.</summary>
    public static double Unit(long seed, int a, int b) => For(seed, a, b) / (double)0x80000000;
}

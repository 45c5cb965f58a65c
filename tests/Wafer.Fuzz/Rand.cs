// Seeded choices for the generators: case i of seed s draws from its own stream, so any case reruns alone.
namespace Wafer.Fuzz;

public sealed class Rand(long seed, int index)
{
    private readonly Random _r = new((int)(SplitMix((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)index) & 0x7FFFFFFF));

    private static ulong SplitMix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public int Next(int max) => _r.Next(max);
    public int Next(int min, int max) => _r.Next(min, max);
    public bool Chance(double p) => _r.NextDouble() < p;
    public T One<T>(IReadOnlyList<T> xs) => xs[_r.Next(xs.Count)];
    public T Pick<T>(params T[] xs) => xs[_r.Next(xs.Length)];

    /// <summary>Half the cases lean valid (a bad value 10x less often), so that most options are valid and the one bad
    /// value meets the code deep inside a command.</summary>
    public double Lean { get; set; }

    /// <summary>A valid value most of the time, otherwise one of the bad ones.</summary>
    public string Value(double validShare, IReadOnlyList<string> valid, IReadOnlyList<string> bad) =>
        Chance(validShare + (1 - validShare) * Lean) ? One(valid) : One(bad);

    public static readonly string[] BadInts = ["0", "-1", "-2147483648", "2147483647", "99999999999", "1.5", "1e3", "abc", "", " 7", "0x10", "٣", "NaN", "--", "9223372036854775808"];
    public static readonly string[] BadFloats = ["0", "-1", "NaN", "Infinity", "-Infinity", "1e400", "-1e-300", "abc", "", "1,5", "1e38", "∞"];
    public static readonly string[] BadPaths = ["{dir}/missing.json", "{dir}", "/dev/zero", "/dev/urandom", "/dev/null", "", "{dir}/no/such/dir/file", "/proc/self/mem", "{fx}/data.txt"];
}

// Elementwise and per-row layer work split over the worker pool. The split depends only on the size (never on the
// thread count), so the reductions that combine per-part results (LayerNorm's weight gradients) are reproducible.
namespace Wafer.Gpt.Numerics;

internal static class Chunks
{
    /// <summary>The most parts a range is split into.</summary>
    public const int MaxParts = 8;

    /// <summary>How many parts [0, n) splits into when each part should hold at least `grain` items.</summary>
    public static int Parts(int n, int grain) => Math.Clamp(n / Math.Max(1, grain), 1, MaxParts);

    /// <summary>Runs body(part, start, end) over the parts of [0, n), on up to `threads` threads.</summary>
    public static void Run(int n, int grain, int threads, Action<int, int, int> body)
    {
        var parts = Parts(n, grain);
        // Boundaries on multiples of 8, so vector loops see the same elements whatever the split.
        int Bound(int p) => p == parts ? n : (int)((long)n * p / parts) & ~7;
        WorkerPool.Run(parts, threads, p => body(p, Bound(p), Bound(p + 1)));
    }
}

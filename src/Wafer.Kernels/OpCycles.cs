// The cost of one DSD op on memory operands, for the closed-form models: SU + ceil(n / width), the width halved when two
// contiguous memory sources sit where the bank rule makes them collide (docs/architecture.md §3; the engine's
// ComputeEngine.MemoryOpCycles applies the same rule when it runs the op).
using Wafer.Fabric.Config;

namespace Wafer.Kernels;

public static class OpCycles
{
    /// <summary>True when sources at byte addresses a and b are not 4 banks apart: (a/2) % 8 != (b/2 + 4) % 8 in 16-bit
    /// words (docs/sources.md §2.3). Pass -1 for a source that is not a contiguous memory DSD (immediate, scalar, fabric).</summary>
    public static bool Conflict(int a, int b) => a >= 0 && b >= 0 && a / 2 % 8 != (b / 2 + 4) % 8;

    /// <summary>SU + ceil(n / width), width halved (at least 1) on a bank conflict between sources a and b.</summary>
    public static long Memory(WaferConfig c, int n, int width, int a = -1, int b = -1)
    {
        if (Conflict(a, b)) width = Math.Max(1, width / 2);
        return c.DsdOpStartupCycles + (n + width - 1) / width;
    }
}

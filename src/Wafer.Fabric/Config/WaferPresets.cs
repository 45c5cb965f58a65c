// Named wafers: tiny (tests, demos), cs2 (WSE-2), cs3 (WSE-3). Sources in docs/sources.md.
namespace Wafer.Fabric.Config;

public static class WaferPresets
{
    /// <summary>An 8 x 8 wafer with CS-2 PEs: fast enough for tests and demos.</summary>
    public static WaferConfig Tiny { get; } = new() { Name = "tiny", WidthPes = 8, HeightPes = 8 };

    /// <summary>CS-2: the 750 x 994 program rectangle of a 757 x 996 WSE-2 fabric (docs/sources.md §1.2), 850 MHz (SDK; 1.1 GHz per HC34).</summary>
    public static WaferConfig Cs2 { get; } = new() { Name = "cs2", WidthPes = 750, HeightPes = 994 };

    /// <summary>CS-3: 762 x 1176 fabric minus the same border = 755 x 1174 (docs/sources.md §1.2 [inferred]); SIMD widths and queues of WSE-3 (§2.2, §2.6).
    /// The WSE-3 clock is not published; the SDK's WSE-3 scripts still convert at 850 MHz (docs/sources.md §1.1).</summary>
    public static WaferConfig Cs3 { get; } = new()
    {
        Name = "cs3",
        WidthPes = 755,
        HeightPes = 1174,
        SimdWidthFp16 = 8,
        SimdWidthFp32Add = 4,
        SimdWidthConvert = 4,
        InputQueueDepthWords = [8, 8, 4, 4, 4, 4, 4, 4],
        OutputQueueDepthWords = [8, 8, 8, 8, 8, 8, 8, 8],
        PeakFlopsPerPeCycle = 16,
    };

    public static IReadOnlyDictionary<string, WaferConfig> All { get; } = new Dictionary<string, WaferConfig>(StringComparer.OrdinalIgnoreCase)
    {
        ["tiny"] = Tiny,
        ["cs2"] = Cs2,
        ["cs3"] = Cs3,
    };
}

// Admission against this machine's memory: work whose buffers would not fit is refused before anything is allocated,
// with the figure it needs and what is available. Available = the GC's view (physical memory, a container's limit, or
// DOTNET_GCHeapHardLimit when set) less what the process already holds.
using Wafer.Core;

namespace Wafer.Fabric;

public static class HostMemory
{
    /// <summary>What the runtime, the code and the untracked small objects of a run take besides its counted buffers.</summary>
    public const long ReserveBytes = 256L << 20;

    /// <summary>Bytes this process may still allocate.</summary>
    public static long AvailableBytes
    {
        get
        {
            var info = GC.GetGCMemoryInfo();
            var limit = info.TotalAvailableMemoryBytes;
            return Math.Max(0, limit - GC.GetTotalMemory(forceFullCollection: false) - ReserveBytes);
        }
    }

    /// <summary>Throws (a bad-input error: the work does not fit this machine) when needBytes exceed what is available.
    /// what: "training gpt3-xl (batch 12 x 64)"; parts: how the need is made up; hint: what would fit.</summary>
    public static void Require(double needBytes, string what, string parts, string hint)
    {
        var available = AvailableBytes;
        if (needBytes <= available) return;
        throw new WaferInputException($"{what} needs {Gb(needBytes)} of memory ({parts}); this machine has {Gb(available)} available{(hint.Length > 0 ? "; " + hint : "")}");
    }

    public static string Gb(double bytes) => bytes >= 1e9 ? $"{bytes / 1e9:N1} GB" : $"{bytes / 1e6:N0} MB";
}

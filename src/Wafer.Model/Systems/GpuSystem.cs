// A GPU model for `wafer estimate --vs`: per-GPU peak, memory and links. Vendor datasheet figures; the efficiency
// fractions are the measured ceilings of the libraries (cuBLAS, NCCL) on those parts, the same for every model size.
namespace Wafer.Model.Systems;

public sealed record GpuSystem
{
    public string Name { get; init; } = "a100-80gb";
    /// <summary>Dense bf16/fp16 tensor-core peak per GPU, FLOP/s, e.g. 312e12 (A100 datasheet).</summary>
    public double PeakFlopsPerSecond { get; init; } = 312e12;
    /// <summary>HBM per GPU, bytes, e.g. 80e9.</summary>
    public double MemoryBytes { get; init; } = 80e9;
    /// <summary>HBM bandwidth per GPU, bytes/s, e.g. 2.039e12 (A100 80GB SXM datasheet).</summary>
    public double MemoryBytesPerSecond { get; init; } = 2.039e12;
    /// <summary>GPUs sharing NVLink in one node, e.g. 8 (DGX A100).</summary>
    public int GpusPerNode { get; init; } = 8;
    /// <summary>NVLink bandwidth per GPU per direction, bytes/s, e.g. 300e9 (NVLink 3: 12 links x 25 GB/s).</summary>
    public double NvlinkBytesPerSecond { get; init; } = 300e9;
    /// <summary>Inter-node bandwidth per GPU per direction, bytes/s, e.g. 25e9 (one 200 Gb/s HDR InfiniBand NIC per GPU, DGX A100).</summary>
    public double NetworkBytesPerSecond { get; init; } = 25e9;
    /// <summary>Streaming multiprocessors, each running one output tile of a GEMM at a time, e.g. 108 (A100 datasheet).</summary>
    public int StreamingMultiprocessors { get; init; } = 108;
    /// <summary>The output tile of cuBLAS's most efficient fp16 GEMM kernels, rows x columns, e.g. 256 x 128 (NVIDIA, Matrix
    /// Multiplication Background User's Guide, §2.3): a GEMM runs in waves of one tile per SM (§3).</summary>
    public int GemmTileRows { get; init; } = 256;
    public int GemmTileColumns { get; init; } = 128;
    /// <summary>Fraction of peak large bf16 GEMMs sustain, e.g. 0.8 (cuBLAS on A100: ~250 of 312 TFLOP/s, on shapes that
    /// fill whole waves of whole tiles).</summary>
    public double MatmulEfficiency { get; init; } = 0.8;
    /// <summary>Fraction of HBM bandwidth elementwise kernels sustain, e.g. 0.8.</summary>
    public double MemoryEfficiency { get; init; } = 0.8;
    /// <summary>NCCL bus bandwidth as a fraction of NVLink, e.g. 0.8 (nccl-tests all_reduce ~230-240 GB/s on DGX A100).</summary>
    public double NvlinkEfficiency { get; init; } = 0.8;
    /// <summary>NCCL bus bandwidth as a fraction of the network, e.g. 0.9 (all_reduce over HDR InfiniBand).</summary>
    public double NetworkEfficiency { get; init; } = 0.9;

    public IReadOnlyList<string> Validate()
    {
        var e = new List<string>();
        foreach (var (name, v) in new[] { ("PeakFlopsPerSecond", PeakFlopsPerSecond), ("MemoryBytes", MemoryBytes), ("MemoryBytesPerSecond", MemoryBytesPerSecond), ("NvlinkBytesPerSecond", NvlinkBytesPerSecond), ("NetworkBytesPerSecond", NetworkBytesPerSecond) })
            if (!(v > 0)) e.Add($"{name} must be > 0 (is {v})");
        foreach (var (name, v) in new[] { ("MatmulEfficiency", MatmulEfficiency), ("MemoryEfficiency", MemoryEfficiency), ("NvlinkEfficiency", NvlinkEfficiency), ("NetworkEfficiency", NetworkEfficiency) })
            if (!(v > 0 && v <= 1)) e.Add($"{name} must be in (0, 1] (is {v})");
        if (GpusPerNode < 1) e.Add($"GpusPerNode must be >= 1 (is {GpusPerNode})");
        foreach (var (name, v) in new[] { ("StreamingMultiprocessors", StreamingMultiprocessors), ("GemmTileRows", GemmTileRows), ("GemmTileColumns", GemmTileColumns) })
            if (v is < 1 or > 1 << 20) e.Add($"{name} must be between 1 and {1 << 20} (is {v})");
        return e;
    }

    public static readonly GpuSystem A100_80 = new();
    public static readonly GpuSystem A100_40 = new() { Name = "a100-40gb", MemoryBytes = 40e9, MemoryBytesPerSecond = 1.555e12 };
    // H100 SXM: 989 TFLOP/s dense bf16, 80 GB HBM3 at 3.35 TB/s, NVLink 4 at 450 GB/s per direction, 400 Gb/s NDR per GPU,
    // 132 SMs (datasheet).
    public static readonly GpuSystem H100 = new()
    {
        Name = "h100", PeakFlopsPerSecond = 989e12, MemoryBytes = 80e9, MemoryBytesPerSecond = 3.35e12, NvlinkBytesPerSecond = 450e9, NetworkBytesPerSecond = 50e9,
        StreamingMultiprocessors = 132,
    };
}

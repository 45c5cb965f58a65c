// Data structure descriptors: the vector operands of DSD ops (docs/sources.md §2.4). Strides, offsets and lengths are in elements.
namespace Wafer.Fabric.Pe;

public enum DsdKind : byte { Mem1D, Mem4D, FabIn, FabOut, Fifo, Port }

/// <summary>A vector operand. Memory DSDs address SRAM (element size comes from the op: 4 bytes for fp32 ops, 2 for fp16);
/// fabric DSDs stream one wavelet per element; FIFO DSDs address a FIFO declared in the PE code; port DSDs stream from
/// or to an off-wafer link attached to the PE by the host (EdgePort: the MemoryX link at the wafer's edge).</summary>
public readonly record struct Dsd
{
    /// <summary>Extents (innermost first) and element strides of a 4-D memory DSD.</summary>
    public sealed record Shape4D(int E0, int E1, int E2, int E3, int S0, int S1, int S2, int S3);

    // 4-D shapes live in a process-wide table and DSDs hold their index, so a DSD (and an op that holds three of
    // them) has no object references: copying ops needs no GC write barriers on the issue path.
    // Readers index a copy-on-write array without locking; writers (new shapes, rare) take the lock.
    private static Shape4D[] s_shapes = [];
    private static readonly Dictionary<Shape4D, int> s_shapeIds = [];

    private static int ShapeId(Shape4D shape)
    {
        lock (s_shapeIds)
        {
            if (s_shapeIds.TryGetValue(shape, out var id)) return id;
            var grown = new Shape4D[s_shapes.Length + 1];
            s_shapes.CopyTo(grown, 0);
            grown[^1] = shape;
            Volatile.Write(ref s_shapes, grown);
            return s_shapeIds[shape] = grown.Length - 1;
        }
    }

    public DsdKind Kind { get; init; }
    /// <summary>Fabric-out only: send control wavelets.</summary>
    public bool Control { get; init; }
    private readonly byte _color, _queue;
    public int Color { get => _color; init => _color = (byte)value; }
    /// <summary>Input or output queue of a fabric DSD, or the FIFO ID of a FIFO DSD.</summary>
    public int Queue { get => _queue; init => _queue = (byte)value; }
    public int FifoId { get => _queue; init => _queue = (byte)value; }
    /// <summary>Byte address of element 0 (memory DSDs).</summary>
    public int BaseAddress { get; init; }
    /// <summary>Number of elements (the product of extents for 4-D).</summary>
    public int Length { get; init; }
    /// <summary>Element stride (1-D), e.g. 1 for contiguous.</summary>
    public int Stride { get; init; }
    /// <summary>Element offset added to the base (1-D), moved by <see cref="WithOffset"/> like @increment_dsd_offset.</summary>
    public int Offset { get; init; }
    /// <summary>4-D extents and strides, innermost first; strides are relative to the reset of inner dimensions (SDK mem4d_dsd).
    /// Held by reference so 1-D DSDs (the common case) stay small.</summary>
    public Shape4D? Shape
    {
        get => Kind == DsdKind.Mem4D ? Volatile.Read(ref s_shapes)[_shapeId] : null;
        init => _shapeId = value is null ? 0 : ShapeId(value);
    }
    private readonly int _shapeId;

    public static Dsd Mem1D(int baseAddress, int length, int stride = 1, int offset = 0) =>
        new() { Kind = DsdKind.Mem1D, BaseAddress = baseAddress, Length = length, Stride = stride, Offset = offset };

    /// <summary>Up to 4 dimensions, innermost first; unused dimensions take extent 1.</summary>
    public static Dsd Mem4D(int baseAddress, int[] extents, int[] strides)
    {
        if (extents.Length is < 1 or > 4 || strides.Length != extents.Length)
            throw new FabricProgramException($"mem4d DSD needs 1 to 4 extents with as many strides (got {extents.Length} and {strides.Length})");
        int E(int i) => i < extents.Length ? extents[i] : 1;
        int S(int i) => i < strides.Length ? strides[i] : 0;
        if (extents.Any(e => e < 1)) throw new FabricProgramException($"mem4d DSD extents must be >= 1 (got {string.Join(",", extents)})");
        return new Dsd
        {
            Kind = DsdKind.Mem4D, BaseAddress = baseAddress, Length = E(0) * E(1) * E(2) * E(3),
            Shape = new Shape4D(E(0), E(1), E(2), E(3), S(0), S(1), S(2), S(3)),
        };
    }

    public static Dsd FabIn(int color, int length, int queue) => new() { Kind = DsdKind.FabIn, Color = color, Length = length, Queue = queue };
    public static Dsd FabOut(int color, int length, int queue, bool control = false) =>
        new() { Kind = DsdKind.FabOut, Color = color, Length = length, Queue = queue, Control = control };
    public static Dsd Fifo(int fifoId, int length) => new() { Kind = DsdKind.Fifo, FifoId = fifoId, Length = length };
    /// <summary>The next <paramref name="length"/> values of the off-wafer port <paramref name="port"/> (HostIo.AttachPort).</summary>
    public static Dsd Port(int port, int length) => new() { Kind = DsdKind.Port, Queue = port, Length = length };

    public Dsd WithOffset(int offsetElements) => this with { Offset = offsetElements };
    public Dsd WithLength(int length) => this with { Length = length };
    public Dsd WithBase(int baseAddress) => this with { BaseAddress = baseAddress };

    public bool IsMemory => Kind is DsdKind.Mem1D or DsdKind.Mem4D;

    /// <summary>Byte address of element i for element size <paramref name="elemBytes"/>.</summary>
    public int Address(int i, int elemBytes)
    {
        if (Kind == DsdKind.Mem1D) return BaseAddress + (Offset + i * Stride) * elemBytes;
        var (e0, e1, e2, _, s0, s1, s2, s3) = Shape!;
        var i0 = i % e0; var r = i / e0;
        var i1 = r % e1; r /= e1;
        var i2 = r % e2; var i3 = r / e2;
        return BaseAddress + (i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3) * elemBytes;
    }

    /// <summary>Lowest and one-past-highest byte touched, for bounds checks.</summary>
    public (int Lo, int Hi) ByteRange(int elemBytes)
    {
        if (Length == 0) return (BaseAddress, BaseAddress);
        if (Kind == DsdKind.Mem1D)
        {
            int a = Address(0, elemBytes), b = Address(Length - 1, elemBytes);
            return (Math.Min(a, b), Math.Max(a, b) + elemBytes);
        }
        int lo = int.MaxValue, hi = int.MinValue;
        var (e0, e1, e2, e3, _, _, _, _) = Shape!;
        foreach (var c in new[] { 0, e0 - 1 })
        foreach (var d in new[] { 0, e1 - 1 })
        foreach (var e in new[] { 0, e2 - 1 })
        foreach (var f in new[] { 0, e3 - 1 })
        {
            var a = Address(c + e0 * (d + e1 * (e + e2 * f)), elemBytes);
            lo = Math.Min(lo, a); hi = Math.Max(hi, a + elemBytes);
        }
        return (lo, hi);
    }

    /// <summary>The SIMD-width cap that this operand's stride imposes (docs/sources.md §2.2 stride limits [confirmed: SDK-APX]).</summary>
    public int StrideWidthCap(int fullWidth)
    {
        if (Kind != DsdKind.Mem1D) return Kind == DsdKind.Mem4D ? 1 : fullWidth;
        var s = Math.Abs(Stride);
        if (s is 0 or 1) return fullWidth;
        return (s % 8) switch
        {
            2 or 3 or 5 or 6 => fullWidth,
            1 or 7 => Math.Min(2, fullWidth),
            0 => 1,
            _ => Math.Min(4, fullWidth), // stride % 8 == 4: the SDK says "two operations per cycle, or a SIMD width of 4"; we take 4
        };
    }
}

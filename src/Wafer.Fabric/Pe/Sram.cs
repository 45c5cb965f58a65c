// A PE's SRAM: a bump allocator of named symbols over a byte array that grows only as far as symbols reach,
// so a 745,500-PE wafer costs host memory only for what its program uses (DESIGN.md §2.1).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Wafer.Fabric.Pe;

public sealed class Sram
{
    private readonly int _x, _y, _usableBytes;
    private byte[] _bytes = [];
    private Dictionary<string, (int Address, int Bytes)>? _symbols;

    internal Sram(int x, int y, int usableBytes) { _x = x; _y = y; _usableBytes = usableBytes; }

    public int AllocatedBytes { get; private set; }
    public int UsableBytes => _usableBytes;
    internal Span<byte> Bytes => _bytes.AsSpan(0, AllocatedBytes);

    /// <summary>Allocates a symbol, 4-byte aligned; a program that does not fit is rejected with the byte counts.</summary>
    public int Allocate(string symbol, int bytes)
    {
        if (bytes < 0) throw new FabricProgramException($"PE ({_x},{_y}): symbol '{symbol}' has negative size {bytes}");
        _symbols ??= new Dictionary<string, (int, int)>(StringComparer.Ordinal);
        if (_symbols.ContainsKey(symbol)) throw new FabricProgramException($"PE ({_x},{_y}): symbol '{symbol}' is allocated twice");
        var address = (AllocatedBytes + 3) & ~3;
        var end = (long)address + bytes;
        if (end > _usableBytes)
            throw new FabricProgramException(
                $"PE ({_x},{_y}): SRAM overflow: symbol '{symbol}' needs {bytes} bytes at {address}, program needs {end} bytes but the PE has {_usableBytes} usable");
        _symbols[symbol] = (address, bytes);
        AllocatedBytes = (int)end;
        if (_bytes.Length < AllocatedBytes) Array.Resize(ref _bytes, Math.Min(_usableBytes, Math.Max(AllocatedBytes, _bytes.Length * 2)));
        return address;
    }

    public (int Address, int Bytes) Symbol(string name) =>
        _symbols is not null && _symbols.TryGetValue(name, out var s)
            ? s
            : throw new FabricProgramException($"PE ({_x},{_y}): no symbol '{name}'");

    public bool HasSymbol(string name) => _symbols?.ContainsKey(name) ?? false;

    /// <summary>Throws unless [address, address + bytes) lies inside allocated SRAM.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Check(int address, long bytes, string what)
    {
        if (address < 0 || address + bytes > AllocatedBytes)
            throw new FabricProgramException(
                $"PE ({_x},{_y}): {what} touches bytes [{address},{address + bytes}) outside allocated SRAM [0,{AllocatedBytes})");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float ReadF32(int address) => Unsafe.ReadUnaligned<float>(ref _bytes[address]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteF32(int address, float value) => Unsafe.WriteUnaligned(ref _bytes[address], value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Half ReadF16(int address) => Unsafe.ReadUnaligned<Half>(ref _bytes[address]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteF16(int address, Half value) => Unsafe.WriteUnaligned(ref _bytes[address], value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int ReadI32(int address) => Unsafe.ReadUnaligned<int>(ref _bytes[address]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteI32(int address, int value) => Unsafe.WriteUnaligned(ref _bytes[address], value);

    internal Span<float> F32(int address, int count) => MemoryMarshal.Cast<byte, float>(_bytes.AsSpan(address, count * 4));
}

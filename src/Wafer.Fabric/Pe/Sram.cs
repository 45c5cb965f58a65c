// A PE's SRAM: a byte array exactly as big as the program's symbols reach, so a 745,500-PE wafer costs host memory
// only for what its program uses (docs/design.md §2.1); symbol tables are shared by the PEs that run the same code.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Wafer.Fabric.Pe;

/// <summary>Symbol addresses of one PeCode: a bump allocator, 4-byte aligned, checked against usable SRAM.</summary>
internal sealed class SymbolTable(int usableBytes)
{
    private readonly Dictionary<string, (int Address, int Bytes)> _symbols = new(StringComparer.Ordinal);
    public int UsableBytes { get; } = usableBytes;
    public int AllocatedBytes { get; private set; }

    public void Allocate(string symbol, int bytes, int x, int y)
    {
        if (bytes < 0) throw new FabricProgramException($"PE ({x},{y}): symbol '{symbol}' has negative size {bytes}");
        if (_symbols.ContainsKey(symbol)) throw new FabricProgramException($"PE ({x},{y}): symbol '{symbol}' is allocated twice");
        var address = (AllocatedBytes + 3) & ~3;
        var end = (long)address + bytes;
        if (end > UsableBytes)
            throw new FabricProgramException(
                $"PE ({x},{y}): SRAM overflow: symbol '{symbol}' needs {bytes} bytes at {address}, program needs {end} bytes but the PE has {UsableBytes} usable");
        _symbols[symbol] = (address, bytes);
        AllocatedBytes = (int)end;
    }

    public bool TryGet(string name, out (int Address, int Bytes) symbol) => _symbols.TryGetValue(name, out symbol);
}

public sealed class Sram
{
    private readonly int _x, _y;
    private byte[] _bytes = [];
    private readonly SymbolTable _symbols;

    internal Sram(int x, int y, SymbolTable symbols)
    {
        _x = x;
        _y = y;
        _symbols = symbols;
    }

    /// <summary>Allocates the backing bytes. The simulator does this for all PEs after their router and engine objects,
    /// so those small, hot objects of neighbouring PEs sit close together in memory instead of between SRAM arrays.</summary>
    internal void Materialize()
    {
        if (_bytes.Length != _symbols.AllocatedBytes) _bytes = new byte[_symbols.AllocatedBytes];
    }

    /// <summary>Bytes the program's symbols occupy; the host array is exactly this big (lazily sized SRAM).</summary>
    public int AllocatedBytes => _symbols.AllocatedBytes;
    public int UsableBytes => _symbols.UsableBytes;
    internal Span<byte> Bytes => _bytes;

    public (int Address, int Bytes) Symbol(string name) =>
        _symbols.TryGet(name, out var s) ? s : throw new FabricProgramException($"PE ({_x},{_y}): no symbol '{name}'");

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

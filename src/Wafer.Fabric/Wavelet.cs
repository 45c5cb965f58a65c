// A wavelet: 32-bit payload + 5-bit color + control bit (38 bits on the wire; docs/sources.md §3.3), packed in a ulong.
using System.Runtime.CompilerServices;

namespace Wafer.Fabric;

/// <summary>Immutable wavelet packed as data (bits 0-31), color (32-36), control (37).</summary>
public readonly struct Wavelet : IEquatable<Wavelet>
{
    private readonly ulong _bits;
    private Wavelet(ulong bits) => _bits = bits;

    public static Wavelet Data(int color, uint payload) => new(payload | ((ulong)(uint)color << 32));
    public static Wavelet Control(int color, uint payload) => new(payload | ((ulong)(uint)color << 32) | (1UL << 37));
    public static Wavelet FromFloat(int color, float value) => Data(color, BitConverter.SingleToUInt32Bits(value));

    public uint Payload { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (uint)_bits; }
    public int Color { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (int)((_bits >> 32) & 0x1F); }
    public bool IsControl { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (_bits & (1UL << 37)) != 0; }
    public float AsFloat => BitConverter.UInt32BitsToSingle(Payload);
    /// <summary>Low 16 bits (the data half in the sparse convention, docs/sources.md §3.3).</summary>
    public ushort Low16 => (ushort)Payload;
    /// <summary>High 16 bits (the index half).</summary>
    public ushort High16 => (ushort)(Payload >> 16);

    public bool Equals(Wavelet other) => _bits == other._bits;
    public override bool Equals(object? obj) => obj is Wavelet w && Equals(w);
    public override int GetHashCode() => _bits.GetHashCode();
    public override string ToString() => $"C{Color}{(IsControl ? " ctrl" : "")} 0x{Payload:x8}";
}

/// <summary>Our encoding of control-wavelet commands (the real bit layout is undocumented: docs/sources.md §7 item 6).</summary>
public static class ControlPayload
{
    /// <summary>No control task: the wavelet only carries router commands.</summary>
    public const int NoTask = 0x3F;
    private const uint SwitchAdvanceBit = 1u << 24;
    private const uint SwitchResetBit = 1u << 25;

    /// <summary>Low 16 bits: data for the control task; bits 16-21: control task ID (63 = none); bit 24: SWITCH_ADV; bit 25: SWITCH_RST.</summary>
    public static uint Make(int taskId = NoTask, ushort data = 0, bool advanceSwitch = false, bool resetSwitch = false) =>
        data | ((uint)(taskId & 0x3F) << 16) | (advanceSwitch ? SwitchAdvanceBit : 0) | (resetSwitch ? SwitchResetBit : 0);

    public static int TaskId(uint payload) => (int)((payload >> 16) & 0x3F);
    public static bool AdvancesSwitch(uint payload) => (payload & SwitchAdvanceBit) != 0;
    public static bool ResetsSwitch(uint payload) => (payload & SwitchResetBit) != 0;
}

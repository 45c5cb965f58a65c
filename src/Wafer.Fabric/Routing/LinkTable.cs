// Every link's in-flight wavelets in two flat arrays (cache-friendly: a PE's four outgoing links are adjacent).
// Each link is a ring of (latency + 1) stamped slots: the sender writes the slot for arrival t+L in cycle t, the
// receiver reads the slot for arrival t in cycle t, so the two never touch the same slot in the same cycle.
using System.Runtime.CompilerServices;

namespace Wafer.Fabric.Routing;

internal sealed class LinkTable
{
    public readonly int LatencyCycles;
    private readonly int _ring;
    public readonly long[] Arrival;
    public readonly Wavelet[] Wavelets;

    public LinkTable(int peCount, int latencyCycles)
    {
        LatencyCycles = latencyCycles;
        _ring = latencyCycles + 1;
        Arrival = new long[(long)peCount * DirectionExtensions.LinkCount * _ring];
        Wavelets = new Wavelet[Arrival.Length];
        Array.Fill(Arrival, -1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int SlotOf(long cycle) => (int)(cycle % _ring);

    /// <summary>Slot <paramref name="slot"/> of the link leaving PE <paramref name="pe"/> in direction <paramref name="dir"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Index(int pe, int dir, int slot) => (pe * DirectionExtensions.LinkCount + dir) * _ring + slot;
}

// The sending end of one link: a ring of (latency + 1) stamped slots. The sender writes the slot for arrival t+L in
// cycle t; the receiver reads the slot for arrival t in cycle t. They never touch the same slot in the same cycle.
namespace Wafer.Fabric.Routing;

internal sealed class LinkOut
{
    public readonly Wavelet[] Slots;
    public readonly long[] Arrival;

    public LinkOut(int latencyCycles)
    {
        Slots = new Wavelet[latencyCycles + 1];
        Arrival = new long[latencyCycles + 1];
        Array.Fill(Arrival, -1);
    }
}

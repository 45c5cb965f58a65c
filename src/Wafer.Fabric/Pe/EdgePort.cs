// An off-wafer stream attached to an edge PE: the MemoryX link of a weight-streaming system (the CS-2's 12 x 100 GbE
// into the wafer's edge, docs/design.md §2.3) or any host stream. A port DSD reads the next value of the attached host
// array (weights in) or writes the next one (gradients out), one value per element, at most one value every
// CyclesPerValue cycles: the link's share of bandwidth for this PE. Values are fp32 on the host side.
namespace Wafer.Fabric.Pe;

internal sealed class EdgePort(float[] data, int offset, int count, double cyclesPerValue)
{
    public readonly float[] Data = data;
    public readonly int Offset = offset;
    public readonly int Count = count;
    public readonly double CyclesPerValue = cyclesPerValue;
    /// <summary>Values moved so far.</summary>
    public int Moved;
    /// <summary>When the next value may move (fractional: the link's rate need not divide the clock).</summary>
    private double _ready = double.NegativeInfinity;

    public long ReadyCycle => double.IsNegativeInfinity(_ready) ? long.MinValue : (long)Math.Ceiling(_ready);

    public bool Ready(long t) => Moved < Count && t >= ReadyCycle;

    public float Read(long t)
    {
        var v = Data[Offset + Moved];
        Advance(t);
        return v;
    }

    public void Write(long t, float v)
    {
        Data[Offset + Moved] = v;
        Advance(t);
    }

    private void Advance(long t)
    {
        Moved++;
        // Moved as soon as allowed: the fractional schedule goes on; later (the link idled): it restarts from t.
        _ready = (t > ReadyCycle ? t : _ready) + CyclesPerValue;
    }
}

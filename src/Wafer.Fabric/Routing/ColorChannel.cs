// One configured color at one router at run time: input buffers per accepted input, credits per output link,
// the multicast head in flight, and the switch position.
using System.Runtime.CompilerServices;

namespace Wafer.Fabric.Routing;

[InlineArray(DirectionExtensions.PortCount)]
internal struct FifoPerPort { private WaveletFifo? _e; }

[InlineArray(DirectionExtensions.LinkCount)]
internal struct ChannelPerLink { private ColorChannel? _e; }

[InlineArray(DirectionExtensions.LinkCount)]
internal struct CountPerLink { private ushort _e; }

[InlineArray(DirectionExtensions.LinkCount)]
internal struct WordPerLink { private long _e; }

internal sealed class ColorChannel
{
    public readonly int Color;
    public readonly ColorRoute Route;
    public int Position;
    /// <summary>The current switch position's rx and tx sets, kept beside the state the router reads every cycle.</summary>
    public Ports CurrentRx, CurrentTx;
    /// <summary>Wavelets in all input buffers of this color (so the router knows the color is empty without visiting
    /// every buffer).</summary>
    public int Buffered;

    /// <summary>Input buffers by <see cref="Direction"/>; null where no switch position accepts that input.
    /// In[Ramp] is the compute engine's output queue bound to this color.</summary>
    public FifoPerPort In;

    /// <summary>The neighbour's channel that receives what this one sends on each link (resolved at load).</summary>
    public ChannelPerLink Down;

    /// <summary>Wavelets sent per output link, mod 2^16; with the neighbour's consumed count it gives the credits in use.</summary>
    public CountPerLink Sent;

    /// <summary>Wavelets popped per input link, published to the upstream neighbour as a stamped word so that a reader
    /// in cycle t sees the count as of the end of t-1, whichever thread runs first (see docs/architecture.md, phase 3).</summary>
    public WordPerLink ConsumedWord;
    private CountPerLink _consumed;

    /// <summary>The compute engine's input queue bound to this color (target of RAMP in tx), or null.</summary>
    public WaveletFifo? CeIn;

    /// <summary>Input whose head wavelet is being forwarded (-1: none) and the ports it still has to reach.</summary>
    public int HeadIn = -1;
    public Ports HeadLeft;
    public int RoundRobinIn;

    public ColorChannel(int color, ColorRoute route)
    {
        Color = color;
        Route = route;
        SetPosition(route.InitialPosition);
    }

    private void SetPosition(int position)
    {
        Position = position;
        (CurrentRx, CurrentTx) = Route.Positions[position];
    }

    /// <summary>The consumed count on input <paramref name="d"/> as of the end of cycle <paramref name="cycle"/> - 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort ConsumedBefore(int d, long cycle)
    {
        var word = Volatile.Read(ref ConsumedWord[d]);
        return (uint)(word >> 32) == (uint)cycle ? (ushort)(word >> 16) : (ushort)word;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MarkConsumed(int d, long cycle)
    {
        var old = ConsumedWord[d];
        var asOfStart = (uint)(old >> 32) == (uint)cycle ? (ushort)(old >> 16) : (ushort)old;
        var now = ++_consumed[d];
        Volatile.Write(ref ConsumedWord[d], ((long)(uint)cycle << 32) | ((long)asOfStart << 16) | now);
    }

    public void AdvanceSwitch()
    {
        if (Position + 1 < Route.Positions.Length) SetPosition(Position + 1);
        else if (Route.RingMode) SetPosition(0);
    }

    public void ResetSwitch() => SetPosition(0);
}

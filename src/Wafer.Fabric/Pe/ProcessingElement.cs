// One PE: its router (this file) and its compute engine (ComputeEngine.cs). A PE's cycle: link arrivals, router
// forwarding (one wavelet per output port), then the compute engine (docs/architecture.md, phases 1-3).
using System.Numerics;
using System.Runtime.CompilerServices;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Routing;

namespace Wafer.Fabric.Pe;

[InlineArray(DirectionExtensions.PortCount)]
internal struct PortCounts { private long _e; }

[InlineArray(DirectionExtensions.LinkCount)]
internal struct NeighborRefs { private ProcessingElement? _e; }

[InlineArray(DirectionExtensions.LinkCount)]
internal struct IntPerLink { private int _e; }

public sealed class ProcessingElement
{
    internal readonly int X, Y, Index;
    /// <summary>The wafer's config, handed in at construction (the router and the compute engine read it).</summary>
    internal readonly WaferConfig Config;
    internal ColorChannel?[]? Channels;
    /// <summary>Links this PE's routes accept wavelets from (bit per Direction), so phase 1 polls only those.</summary>
    internal byte RxLinks;
    internal uint NonEmpty;
    internal ComputeEngine? Ce;
    internal int Band;
    internal bool Watched;
    /// <summary>Asleep with wavelets in its router that cannot move (no credit, a full queue, not yet visible): counted
    /// by its band so that a fabric that only holds such PEs is still pending work (deadlock detection).</summary>
    internal bool BlockedAsleep;
    private int _roundRobinColor;
    /// <summary>The cycle this PE last stepped with wavelets in its router and then slept (-1: it did not): the colors'
    /// round robin turns once per cycle while the router holds wavelets, so the cycles slept through are turned on waking.</summary>
    private long _rrSleptAt = -1;
    /// <summary>This cycle's Forward left a head that lost a port to another color (_contended), or one waiting on a
    /// full input queue of this PE's compute engine (_rampBlocked).</summary>
    private bool _contended, _rampBlocked;

    // Stats: plain counters on the hot path (docs/design.md §3).
    internal long WaveletsForwarded;
    internal PortCounts WaveletsOutByPort;

    // Resolved once at load (Connect): the neighbours by direction, where the link from each into this PE starts in
    // the link table, and the config values the router reads every step.
    internal NeighborRefs Neighbors;
    private IntPerLink _inLink;
    /// <summary>Each neighbour's band and index within it, so that a wake-up does not visit the neighbour's object.</summary>
    private IntPerLink _wakeBand, _wakeLocal;
    private LinkTable _links = null!;
    private int _colors, _rampLatency, _bufferDepth;

    /// <summary>The PE at (x, y) of a program rectangle `width` PEs wide, on a wafer of this config.</summary>
    internal ProcessingElement(WaferConfig config, int x, int y, int width)
    {
        Config = config;
        X = x;
        Y = y;
        Index = y * width + x;
        _colors = config.ColorCount;
        _rampLatency = config.RampLatencyCycles;
        _bufferDepth = config.RouterBufferDepthWavelets;
    }

    /// <summary>Wires the PE to its neighbours (by Direction; null off the rectangle's edge) and the links between them,
    /// once every PE exists.</summary>
    internal void Connect(LinkTable links, ReadOnlySpan<ProcessingElement?> neighbors)
    {
        _links = links;
        for (var d = 0; d < DirectionExtensions.LinkCount; d++)
        {
            Neighbors[d] = neighbors[d];
            _inLink[d] = Neighbors[d] is { } nb ? _links.Index(nb.Index, (int)((Direction)d).Opposite(), 0) : -1;
        }
    }

    /// <summary>Records which band steps each neighbour (once the simulator has formed its bands).</summary>
    internal void SetNeighborBands(ReadOnlySpan<int> firstPeOfBand)
    {
        for (var d = 0; d < DirectionExtensions.LinkCount; d++)
        {
            if (Neighbors[d] is not { } nb) { _wakeBand[d] = -1; continue; }
            _wakeBand[d] = nb.Band;
            _wakeLocal[d] = nb.Index - firstPeOfBand[nb.Band];
        }
    }

    internal ColorChannel? Channel(int color) => Channels is { } chs && color < chs.Length ? chs[color] : null;

    internal void SetRoute(int color, ColorRoute route)
    {
        Channels ??= new ColorChannel?[color + 1];
        if (Channels.Length <= color) Array.Resize(ref Channels, color + 1);
        if (Channels[color] is not null)
            throw new FabricProgramException($"PE ({X},{Y}): color clash: color {color} is routed twice");
        var ch = new ColorChannel(color, route);
        var depth = _bufferDepth;
        for (var d = 0; d < DirectionExtensions.LinkCount; d++)
            if (((int)route.AllRx & (1 << d)) != 0) ch.In[d] = new WaveletFifo(depth);
        RxLinks |= (byte)((int)route.AllRx & 0xF);
        Channels[color] = ch;
    }

    /// <summary>Phase 1 and 2 of the cycle for this PE, then the compute engine. Returns the next cycle this PE needs
    /// to run (t+1, a later cycle, or long.MaxValue to sleep until a neighbour wakes it).</summary>
    internal long Step(long t, Band band)
    {
        if (_rrSleptAt >= 0)
        {
            _roundRobinColor = (int)((_roundRobinColor + (t - _rrSleptAt - 1)) % _colors);
            _rrSleptAt = -1;
        }
        var inboundPending = Channels is not null && ReceiveLinks(t, band);
        if (NonEmpty != 0) Forward(t, band);
        var ceMoves = band.Moves;
        var next = Ce is null ? long.MaxValue : Ce.Step(t, band);
        if (inboundPending || NonEmpty == 0) return inboundPending ? t + 1 : next;
        next = Math.Min(next, RouterWake(t, band.Moves != ceMoves));
        if (next != t + 1) _rrSleptAt = t;
        return next;
    }

    /// <summary>When the router, holding wavelets, can next make progress without a neighbour waking it. A head that
    /// lost a port to another color this cycle may go next cycle; a head blocked on a full input queue, once this PE's
    /// compute engine has acted (it may have popped that queue); a buffer without a chosen head, when its first wavelet
    /// is visible and accepted by the current switch position. A head blocked on a credit waits for the downstream
    /// router's pop, which wakes this PE for the next cycle; a wavelet not accepted by the switch, for a control wavelet
    /// passing here. Stepping only then visits every cycle in which polling would have changed something.</summary>
    private long RouterWake(long t, bool ceActed)
    {
        if (_contended || (_rampBlocked && ceActed)) return t + 1;
        var wake = long.MaxValue;
        for (var mask = NonEmpty; mask != 0; mask &= mask - 1)
        {
            var ch = Channels![BitOperations.TrailingZeroCount(mask)]!;
            if (ch.HeadIn >= 0) continue;
            var rx = (int)ch.CurrentRx;
            for (var d = 0; d < DirectionExtensions.PortCount; d++)
                if ((rx & (1 << d)) != 0 && ch.In[d] is { IsEmpty: false } f) wake = Math.Min(wake, Math.Max(t + 1, f.HeadReadyCycle));
        }
        return wake;
    }

    /// <summary>Phase 1: take the wavelets arriving this cycle off the four incoming links. Returns true when
    /// wavelets are still in flight towards this PE (hop latency above 1).</summary>
    private bool ReceiveLinks(long t, Band band)
    {
        var links = _links;
        var latency = links.LatencyCycles;
        var slot = band.ArriveSlot;
        uint arrived = 0;
        var pending = false;
        for (int mask = RxLinks; mask != 0; mask &= mask - 1)
        {
            var d = BitOperations.TrailingZeroCount(mask);
            var start = _inLink[d];
            if (start < 0) continue;
            var at = start + slot;
            if (links.Arrival[at] == t)
            {
                var w = links.Wavelets[at];
                var c = w.Color;
                var ch = Channel(c);
                var fifo = ch?.In[d];
                if (fifo is null)
                    throw new FabricProgramException(
                        $"PE ({X},{Y}): cycle {t}: a wavelet on color {c} arrived from {(Direction)d} but no route of color {c} accepts {(Direction)d}");
                if ((arrived & (1u << c)) != 0)
                    throw new ArchitectureViolationException(
                        $"PE ({X},{Y}): cycle {t}: color {c} arrived from two inputs in the same cycle (second from {(Direction)d}); this violates architecture rules (docs/sources.md §3.1)");
                arrived |= 1u << c;
                fifo.Push(w, t);
                ch!.Buffered++;
                NonEmpty |= 1u << c;
                if (Watched) band.Trace.Wavelet(t, this, w, "arrive", (Direction)d);
            }
            for (var k = 1; k < latency && !pending; k++)
                if (links.Arrival[start + links.SlotOf(t + k)] == t + k) pending = true;
        }
        return pending;
    }

    /// <summary>Phase 2: each output port (N, E, S, W, RAMP) sends at most one wavelet; colors take turns (round robin).</summary>
    private void Forward(long t, Band band)
    {
        var colors = _colors;
        var used = Ports.None;
        _contended = false;
        _rampBlocked = false;
        var start = _roundRobinColor;
        _roundRobinColor = start + 1 == colors ? 0 : start + 1;
        var mask = BitOperations.RotateRight(NonEmpty, start) ;
        // Visit colors start, start+1, ... (mod 32 rotation; bits above ColorCount are never set).
        while (mask != 0)
        {
            var k = BitOperations.TrailingZeroCount(mask);
            mask &= mask - 1;
            var c = (k + start) & 31;
            var ch = Channels![c]!;
            if (ch.HeadIn < 0 && !PickHead(ch, t)) continue;
            var fifo = ch.In[ch.HeadIn]!;
            var w = fifo.Peek();
            var left = ch.HeadLeft;
            if ((left & used) != 0) _contended = true;
            var want = left & ~used;
            while (want != 0)
            {
                var p = BitOperations.TrailingZeroCount((uint)want);
                want &= want - 1;
                var port = (Ports)(1 << p);
                if (p == (int)Direction.Ramp)
                {
                    var q = ch.CeIn!;
                    if (q.IsFull) { _rampBlocked = true; continue; }
                    q.Push(w, t + _rampLatency);
                }
                else
                {
                    var down = ch.Down[p]!;
                    var inFlight = (ushort)(ch.Sent[p] - down.ConsumedBefore((int)((Direction)p).Opposite(), t));
                    if (inFlight >= _bufferDepth) continue;
                    var links = _links;
                    var at = links.Index(Index, p, band.SendSlot);
                    links.Wavelets[at] = w;
                    links.Arrival[at] = t + links.LatencyCycles;
                    ch.Sent[p]++;
                    band.Wake(_wakeBand[p], _wakeLocal[p]);
                }
                used |= port;
                left &= ~port;
                WaveletsOutByPort[p]++;
                if (Watched) band.Trace.Wavelet(t, this, w, "depart", (Direction)p);
            }
            ch.HeadLeft = left;
            if (left != 0) continue;
            // Every port of the multicast got the wavelet: pop it, return a credit upstream, apply control commands.
            fifo.Pop();
            WaveletsForwarded++;
            band.Moves++;
            if (ch.HeadIn < DirectionExtensions.LinkCount)
            {
                // A credit goes back upstream: the sender may be asleep with its head blocked on it.
                ch.MarkConsumed(ch.HeadIn, t);
                band.Wake(_wakeBand[ch.HeadIn], _wakeLocal[ch.HeadIn]);
            }
            if (w.IsControl)
            {
                if (ControlPayload.AdvancesSwitch(w.Payload)) ch.AdvanceSwitch();
                if (ControlPayload.ResetsSwitch(w.Payload)) ch.ResetSwitch();
            }
            ch.HeadIn = -1;
            if (--ch.Buffered == 0) NonEmpty &= ~(1u << c);
        }
    }

    /// <summary>Chooses the next input (round robin among accepted, non-empty, visible inputs) whose head to forward.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool PickHead(ColorChannel ch, long t)
    {
        var rx = (int)ch.CurrentRx;
        for (var k = 0; k < DirectionExtensions.PortCount; k++)
        {
            var d = ch.RoundRobinIn + k;
            if (d >= DirectionExtensions.PortCount) d -= DirectionExtensions.PortCount;
            var f = ch.In[d];
            if (f is null || !f.HeadReady(t) || (rx & (1 << d)) == 0) continue;
            ch.HeadIn = d;
            ch.HeadLeft = ch.CurrentTx;
            ch.RoundRobinIn = d + 1 == DirectionExtensions.PortCount ? 0 : d + 1;
            return true;
        }
        return false;
    }

    /// <summary>Called by the compute engine after it pushed into a router input (its output queue).</summary>
    internal void RampInputPushed(int color)
    {
        Channels![color]!.Buffered++;
        NonEmpty |= 1u << color;
    }

    /// <summary>What is left in router buffers, for deadlock reports.</summary>
    internal IEnumerable<string> StuckRouterState()
    {
        if (Channels is null) yield break;
        foreach (var ch in Channels)
        {
            if (ch is null) continue;
            for (var d = 0; d < DirectionExtensions.PortCount; d++)
                if (ch.In[d] is { IsEmpty: false } f)
                    yield return $"color {ch.Color} router buffer from {(Direction)d} holds {f.Count}";
        }
    }
}

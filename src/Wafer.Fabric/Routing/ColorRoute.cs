// One color's route at one router: up to 4 switch positions, each an rx set and a tx set (docs/sources.md §3.1, §3.4).
namespace Wafer.Fabric.Routing;

/// <summary>One switch position: accepted inputs and the (multicast) output set.</summary>
public readonly record struct RoutePosition(Ports Rx, Ports Tx);

/// <summary>A color's configuration at one router. Position 0 is the base route; control wavelets with SWITCH_ADV advance it.</summary>
public sealed record ColorRoute
{
    public ColorRoute(Ports rx, Ports tx) => Positions = [new RoutePosition(rx, tx)];

    public ColorRoute(IReadOnlyList<RoutePosition> positions, bool ringMode = false, int initialPosition = 0)
    {
        Positions = positions.ToArray();
        RingMode = ringMode;
        InitialPosition = initialPosition;
    }

    public RoutePosition[] Positions { get; }
    /// <summary>Wrap from the last position back to 0 (otherwise the last position sticks).</summary>
    public bool RingMode { get; }
    public int InitialPosition { get; }

    /// <summary>Every input any position accepts: the router allocates a buffer for each.</summary>
    public Ports AllRx => Positions.Aggregate(Ports.None, (acc, p) => acc | p.Rx);
    public Ports AllTx => Positions.Aggregate(Ports.None, (acc, p) => acc | p.Tx);

    /// <summary>Problems with this route at (x, y) for color c; empty when valid.</summary>
    public IEnumerable<string> Problems(int x, int y, int color)
    {
        if (Positions.Length is < 1 or > 4) yield return $"PE ({x},{y}) color {color}: a route has 1 to 4 switch positions (has {Positions.Length})";
        if (InitialPosition < 0 || InitialPosition >= Positions.Length) yield return $"PE ({x},{y}) color {color}: initial switch position {InitialPosition} does not exist";
        for (var i = 0; i < Positions.Length; i++)
        {
            var p = Positions[i];
            if (p.Rx == Ports.None) yield return $"PE ({x},{y}) color {color}: switch position {i} has no rx direction";
            if (p.Tx == Ports.None) yield return $"PE ({x},{y}) color {color}: switch position {i} has no tx direction";
            if (Positions.Length > 1 && System.Numerics.BitOperations.PopCount((uint)p.Rx) > 1)
                yield return $"PE ({x},{y}) color {color}: switch position {i} has several rx directions {p.Rx.Describe()}; a switched color takes one (docs/sources.md §3.4)";
        }
    }
}

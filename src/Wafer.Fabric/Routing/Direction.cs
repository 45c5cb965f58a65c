// The router's five ports and port sets (bit masks); Ramp is the link to the PE's own compute engine.
namespace Wafer.Fabric.Routing;

public enum Direction : byte { North = 0, East = 1, South = 2, West = 3, Ramp = 4 }

/// <summary>A set of router ports as a 5-bit mask; multicast routes have several bits set.</summary>
[Flags]
public enum Ports : byte
{
    None = 0,
    North = 1 << Direction.North,
    East = 1 << Direction.East,
    South = 1 << Direction.South,
    West = 1 << Direction.West,
    Ramp = 1 << Direction.Ramp,
}

public static class DirectionExtensions
{
    public const int LinkCount = 4;
    public const int PortCount = 5;

    public static Direction Opposite(this Direction d) => d switch
    {
        Direction.North => Direction.South,
        Direction.South => Direction.North,
        Direction.East => Direction.West,
        Direction.West => Direction.East,
        _ => Direction.Ramp,
    };

    public static Ports ToPorts(this Direction d) => (Ports)(1 << (int)d);

    /// <summary>Step in x and y; y grows southwards (row 0 is the north edge), as in the SDK's layouts.</summary>
    public static (int Dx, int Dy) Step(this Direction d) => d switch
    {
        Direction.North => (0, -1),
        Direction.South => (0, 1),
        Direction.East => (1, 0),
        Direction.West => (-1, 0),
        _ => (0, 0),
    };

    public static string Describe(this Ports ports)
    {
        if (ports == Ports.None) return "{}";
        var names = new List<string>();
        for (var d = 0; d < PortCount; d++)
            if (((int)ports & (1 << d)) != 0) names.Add(((Direction)d).ToString().ToUpperInvariant());
        return "{" + string.Join(",", names) + "}";
    }
}

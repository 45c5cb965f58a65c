// A fabric program's layout (CSL's layout block): the rectangle, the code of each PE, and each PE's color routes.
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Fabric.Engine;

public sealed class FabricLayout
{
    private readonly PeCode?[] _code;
    internal readonly List<(int X, int Y, int Color, ColorRoute Route)> Routes = [];

    public FabricLayout(int width, int height)
    {
        if (width < 1 || height < 1) throw new FabricProgramException($"program rectangle {width}x{height} is empty");
        if ((long)width * height > Config.WaferConfig.MaxPes)
            throw new FabricProgramException($"program rectangle {width}x{height} has {(long)width * height:N0} PEs; no wafer has more than {Config.WaferConfig.MaxPes:N0}");
        Width = width;
        Height = height;
        _code = new PeCode?[width * height];
    }

    public int Width { get; }
    public int Height { get; }

    public PeCode? CodeAt(int x, int y) => _code[y * Width + x];

    /// <summary>Sets the code of one PE (@set_tile_code); PEs without code only route.</summary>
    public void SetCode(int x, int y, PeCode code)
    {
        CheckInside(x, y);
        _code[y * Width + x] = code;
    }

    /// <summary>Sets the code of every PE from a function of its coordinates (null = none).</summary>
    public void SetCode(Func<int, int, PeCode?> codeAt)
    {
        for (var y = 0; y < Height; y++)
            for (var x = 0; x < Width; x++)
                _code[y * Width + x] = codeAt(x, y);
    }

    /// <summary>Configures one color at one router (@set_color_config).</summary>
    public void Route(int x, int y, int color, ColorRoute route)
    {
        CheckInside(x, y);
        Routes.Add((x, y, color, route));
    }

    public void Route(int x, int y, int color, Ports rx, Ports tx) => Route(x, y, color, new ColorRoute(rx, tx));

    private void CheckInside(int x, int y)
    {
        if (x < 0 || y < 0 || x >= Width || y >= Height)
            throw new FabricProgramException($"PE ({x},{y}) is outside the {Width}x{Height} program rectangle");
    }
}

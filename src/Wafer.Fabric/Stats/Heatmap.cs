// A PE-activity heatmap: one block of pixels per PE, coloured by the fraction of cycles it was busy.
namespace Wafer.Fabric.Stats;

public static class Heatmap
{
    /// <summary>PNG of per-PE values in [0, 1] (row 0 at the top = north), scaled up so small fabrics stay visible.</summary>
    public static byte[] Render(int width, int height, Func<int, double> valueAt)
    {
        var scale = Math.Max(1, 256 / Math.Max(width, height));
        int w = width * scale, h = height * scale;
        var rgb = new byte[w * h * 3];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var (r, g, b) = Color(valueAt((y / scale) * width + x / scale));
                var o = (y * w + x) * 3;
                rgb[o] = r; rgb[o + 1] = g; rgb[o + 2] = b;
            }
        return Png.Encode(w, h, rgb);
    }

    private static readonly double[] Stops = [0.27, 0.00, 0.33, 0.23, 0.32, 0.55, 0.13, 0.57, 0.55, 0.37, 0.79, 0.38, 0.99, 0.91, 0.15];

    /// <summary>Dark blue (idle) through green to yellow (always busy), a perceptually ordered ramp like viridis.</summary>
    private static (byte, byte, byte) Color(double v)
    {
        v = double.IsNaN(v) ? 0 : Math.Clamp(v, 0, 1);
        var pos = v * 4;
        var i = Math.Min(3, (int)pos);
        var f = pos - i;
        byte Mix(int c) => (byte)Math.Round(255 * (Stops[i * 3 + c] * (1 - f) + Stops[(i + 1) * 3 + c] * f));
        return (Mix(0), Mix(1), Mix(2));
    }
}

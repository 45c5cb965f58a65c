// The activation layout the layer kernels share with the weight-streaming products: a W x H grid, PE (x, y) holding
// features x k .. x k + k - 1 of tokens y n .. y n + n - 1, feature-major (X[f][t]).
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Layers;

internal static class BlockLayout
{
    /// <summary>The grid and block sizes from the command line (defaults 4 x 2 PEs, n 16, k 4), checked against the wafer.</summary>
    public static (int W, int H, int N, int K) Shape(string program, WaferConfig wafer, DemoSize size)
    {
        var w = size.Width > 0 ? size.Width : Math.Min(4, wafer.WidthPes);
        var h = size.Height > 0 ? size.Height : Math.Min(2, wafer.HeightPes);
        var n = size.Length > 0 ? size.Length : 16;
        var k = size.Block > 0 ? size.Block : 4;
        if (w > wafer.WidthPes || h > wafer.HeightPes) throw new WaferInputException($"{program}: {w} x {h} PEs do not fit the {wafer.WidthPes} x {wafer.HeightPes} wafer");
        return (w, h, n, k);
    }

    /// <summary>One code object per column (every row of a column runs the same program).</summary>
    public static void CodePerColumn(FabricLayout layout, Func<int, PeCode> make)
    {
        var codes = new Dictionary<int, PeCode>();
        layout.SetCode((x, _) =>
        {
            if (!codes.TryGetValue(x, out var code)) codes[x] = code = make(x);
            return code;
        });
    }

    /// <summary>Token-major values [token][feature] (H n tokens, W k features) to the PEs' feature-major blocks, row-major
    /// over PEs as a rectangle memcpy takes them.</summary>
    public static float[] ToBlocks(float[] tokenMajor, int w, int h, int n, int k)
    {
        var d = w * k;
        var block = new float[w * h * k * n];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                for (var f = 0; f < k; f++)
                    for (var t = 0; t < n; t++)
                        block[((y * w + x) * k + f) * n + t] = tokenMajor[(y * n + t) * d + x * k + f];
        return block;
    }
}

// loss.png: per-step training loss (grey; a cycle-level run's fast reference in green) and evaluated train (blue) /
// validation (orange) loss against step, with a title, axis labels, tick values and a legend in a 3x5 pixel font (no
// font files or native graphics needed). report.html draws the same curves as SVG.
using Wafer.Fabric.Stats;
using Wafer.Gpt.Training;

namespace Wafer.Cli.Reports;

internal static class LossChart
{
    private const int Width = 800, Height = 480, Left = 60, Right = 20, Top = 74, Bottom = 52;

    /// <summary>reference: a second per-step curve (green: the fast executor beside a cycle-level run), or empty.</summary>
    public static byte[] Render(IReadOnlyList<double> stepLosses, IReadOnlyList<EvalPoint> evals, IReadOnlyList<double>? reference = null)
    {
        reference ??= [];
        var rgb = new byte[Width * Height * 3];
        rgb.AsSpan().Fill(255);
        var values = stepLosses.Concat(reference).Concat(evals.SelectMany(e => new[] { e.TrainLoss, e.ValLoss })).Where(double.IsFinite).ToList();
        var maxStep = Math.Max(1, Math.Max(stepLosses.Count, evals.Count == 0 ? 0 : evals.Max(e => e.Step)));
        double lo = values.Count == 0 ? 0 : Math.Floor(values.Min() * 10) / 10, hi = values.Count == 0 ? 1 : Math.Ceiling(values.Max() * 10) / 10;
        if (hi <= lo) hi = lo + 1;
        int X(double step) => Left + (int)Math.Round(step / maxStep * (Width - Left - Right));
        int Y(double loss) => Top + (int)Math.Round((hi - loss) / (hi - lo) * (Height - Top - Bottom));
        void Set(int x, int y, (byte R, byte G, byte B) c)
        {
            if (x < 0 || y < 0 || x >= Width || y >= Height) return;
            var o = (y * Width + x) * 3;
            rgb[o] = c.R; rgb[o + 1] = c.G; rgb[o + 2] = c.B;
        }
        void Line(int x0, int y0, int x1, int y1, (byte, byte, byte) c, int thick)
        {
            var n = Math.Max(Math.Abs(x1 - x0), Math.Abs(y1 - y0));
            for (var i = 0; i <= n; i++)
            {
                int x = x0 + (n == 0 ? 0 : (x1 - x0) * i / n), y = y0 + (n == 0 ? 0 : (y1 - y0) * i / n);
                for (var dx = 0; dx < thick; dx++) for (var dy = 0; dy < thick; dy++) Set(x + dx, y + dy, c);
            }
        }
        (byte, byte, byte) grid = (225, 225, 225), axis = (0, 0, 0), grey = (150, 150, 150), blue = (31, 119, 180), orange = (255, 127, 14);
        for (var i = 0; i <= 10; i++)
        {
            var y = Y(lo + (hi - lo) * i / 10);
            Line(Left, y, Width - Right, y, grid, 1);
            Text($"{lo + (hi - lo) * i / 10:F2}", 4, y - 2, axis, Set);
        }
        Line(Left, Top, Left, Height - Bottom, axis, 1);
        Line(Left, Height - Bottom, Width - Right, Height - Bottom, axis, 1);
        Text("0", Left, Height - Bottom + 8, axis, Set);
        Text(maxStep.ToString(System.Globalization.CultureInfo.InvariantCulture), Width - Right - 24, Height - Bottom + 8, axis, Set);
        const string title = "LOSS AGAINST OPTIMIZER STEP", xLabel = "OPTIMIZER STEP";
        Text(title, (Width - title.Length * 8) / 2, 6, axis, Set);
        Text(xLabel, (Left + Width - Right - xLabel.Length * 8) / 2, Height - 18, axis, Set);
        Text("LOSS (NATS/TOKEN)", 4, Top - 22, axis, Set);
        (string Name, (byte, byte, byte) Color)[] legend =
            [("TRAINING LOSS, EACH STEP", (150, 150, 150)), ("TRAINING LOSS, EVALUATED", (31, 119, 180)), ("VALIDATION LOSS, EVALUATED", (255, 127, 14))];
        if (reference.Count > 0) legend = [.. legend, ("FAST EXECUTOR, SAME BATCHES", (44, 160, 44))];
        for (var k = 0; k < legend.Length; k++)
        {
            int lx = Left + 20 + k % 2 * 340, ly = 24 + k / 2 * 14;
            Line(lx, ly + 4, lx + 14, ly + 4, legend[k].Color, 3);
            Text(legend[k].Name, lx + 20, ly, axis, Set);
        }
        for (var i = 1; i < stepLosses.Count; i++)
            if (double.IsFinite(stepLosses[i - 1]) && double.IsFinite(stepLosses[i]))
                Line(X(i), Y(stepLosses[i - 1]), X(i + 1), Y(stepLosses[i]), grey, 1);
        (byte, byte, byte) green = (44, 160, 44);
        for (var i = 1; i < reference.Count; i++)
            if (double.IsFinite(reference[i - 1]) && double.IsFinite(reference[i]))
                Line(X(i), Y(reference[i - 1]), X(i + 1), Y(reference[i]), green, 1);
        for (var i = 1; i < evals.Count; i++)
        {
            Line(X(evals[i - 1].Step), Y(evals[i - 1].TrainLoss), X(evals[i].Step), Y(evals[i].TrainLoss), blue, 2);
            Line(X(evals[i - 1].Step), Y(evals[i - 1].ValLoss), X(evals[i].Step), Y(evals[i].ValLoss), orange, 2);
        }
        return Png.Encode(Width, Height, rgb);
    }

    // 3x5 glyphs (digits, capitals, a little punctuation), one row per 3-bit mask, scaled 2x.
    private static readonly Dictionary<char, int[]> Glyphs = new()
    {
        ['0'] = [7, 5, 5, 5, 7], ['1'] = [2, 6, 2, 2, 7], ['2'] = [7, 1, 7, 4, 7], ['3'] = [7, 1, 7, 1, 7], ['4'] = [5, 5, 7, 1, 1],
        ['5'] = [7, 4, 7, 1, 7], ['6'] = [7, 4, 7, 5, 7], ['7'] = [7, 1, 1, 1, 1], ['8'] = [7, 5, 7, 5, 7], ['9'] = [7, 5, 7, 1, 7],
        ['.'] = [0, 0, 0, 0, 2], ['-'] = [0, 0, 7, 0, 0], [' '] = [0, 0, 0, 0, 0], ['('] = [1, 2, 2, 2, 1], [')'] = [4, 2, 2, 2, 4],
        ['/'] = [1, 1, 2, 4, 4], [','] = [0, 0, 0, 2, 4], [':'] = [0, 2, 0, 2, 0],
        ['A'] = [2, 5, 7, 5, 5], ['B'] = [6, 5, 6, 5, 6], ['C'] = [3, 4, 4, 4, 3], ['D'] = [6, 5, 5, 5, 6], ['E'] = [7, 4, 6, 4, 7],
        ['F'] = [7, 4, 6, 4, 4], ['G'] = [3, 4, 5, 5, 3], ['H'] = [5, 5, 7, 5, 5], ['I'] = [7, 2, 2, 2, 7], ['J'] = [1, 1, 1, 5, 2],
        ['K'] = [5, 5, 6, 5, 5], ['L'] = [4, 4, 4, 4, 7], ['M'] = [5, 7, 7, 5, 5], ['N'] = [6, 5, 5, 5, 5], ['O'] = [2, 5, 5, 5, 2],
        ['P'] = [6, 5, 6, 4, 4], ['Q'] = [2, 5, 5, 6, 3], ['R'] = [6, 5, 6, 5, 5], ['S'] = [3, 4, 2, 1, 6], ['T'] = [7, 2, 2, 2, 2],
        ['U'] = [5, 5, 5, 5, 7], ['V'] = [5, 5, 5, 5, 2], ['W'] = [5, 5, 7, 7, 5], ['X'] = [5, 5, 2, 5, 5], ['Y'] = [5, 5, 2, 2, 2],
        ['Z'] = [7, 1, 2, 4, 7],
    };

    private static void Text(string s, int x, int y, (byte, byte, byte) c, Action<int, int, (byte, byte, byte)> set)
    {
        foreach (var ch in s)
        {
            if (Glyphs.TryGetValue(ch, out var rows))
                for (var r = 0; r < 5; r++)
                    for (var col = 0; col < 3; col++)
                        if ((rows[r] >> (2 - col) & 1) != 0)
                            for (var d = 0; d < 4; d++) set(x + col * 2 + d % 2, y + r * 2 + d / 2, c);
            x += 8;
        }
    }
}

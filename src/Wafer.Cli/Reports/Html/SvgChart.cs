// Charts for report.html as inline SVG: text is drawn by the browser (no fonts or native graphics here), every chart
// has a title, axis labels with units and a legend, and every data mark carries its value in an SVG <title> (shown on
// hover). The markup is well-formed XML so that tests can parse it and check each chart's labels and data.
using System.Globalization;
using System.Text;

namespace Wafer.Cli.Reports.Html;

/// <summary>One curve of a line chart: points in data units; markers draw a dot (with its value on hover) per point.</summary>
internal sealed record LineSeries(string Name, string Color, IReadOnlyList<(double X, double Y)> Points, bool Markers = false, double StrokeWidth = 0);

/// <summary>One group member of a bar chart: a value per category (NaN = no bar).</summary>
internal sealed record BarSeries(string Name, string Color, IReadOnlyList<double> Values);

/// <summary>A PE grid binned to at most a few thousand cells: bin (i, j) covers PE columns i * BinWidth .. and rows
/// j * BinHeight .. (clipped to the fabric); Values[j * Columns + i] is the mean over the bin's PEs.</summary>
internal sealed record HeatGrid(string Stat, string Unit, string Meaning, int WidthPes, int HeightPes, int BinWidth, int BinHeight, int Columns, int Rows, IReadOnlyList<double> Values);

internal static class SvgChart
{
    private const int Width = 760, Height = 400, Left = 78, Right = 24, Top = 40, Bottom = 58;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Line(string title, string xLabel, string yLabel, IReadOnlyList<LineSeries> series)
    {
        var pts = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        double x0 = pts.Count == 0 ? 0 : pts.Min(p => p.X), x1 = pts.Count == 0 ? 1 : pts.Max(p => p.X);
        double y0 = pts.Count == 0 ? 0 : pts.Min(p => p.Y), y1 = pts.Count == 0 ? 1 : pts.Max(p => p.Y);
        var xt = Ticks(x0, x1 > x0 ? x1 : x0 + 1);
        var yt = Ticks(y0 - (y1 - y0) * 0.02, y1 > y0 ? y1 + (y1 - y0) * 0.02 : y0 + 1);
        double Px(double x) => Left + (x - xt[0]) / (xt[^1] - xt[0]) * (Width - Left - Right);
        double Py(double y) => Height - Bottom - (y - yt[0]) / (yt[^1] - yt[0]) * (Height - Top - Bottom);
        var sb = Open("line", title, Width, Height + LegendHeight(series.Count));
        Axes(sb, xt, yt, Px, Py, xLabel, yLabel);
        foreach (var s in series)
        {
            var good = s.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
            sb.Append(Inv, $"<g class=\"series\" data-name=\"{Esc(s.Name)}\" data-points=\"{good.Count}\">");
            if (good.Count > 1)
                sb.Append(Inv, $"<polyline fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"{(s.StrokeWidth > 0 ? s.StrokeWidth : s.Markers ? 2 : 1.2)}\" points=\"{string.Join(" ", good.Select(p => F(Px(p.X)) + "," + F(Py(p.Y))))}\"><title>{Esc(s.Name)}</title></polyline>");
            if (s.Markers || good.Count == 1)
                foreach (var p in good)
                    sb.Append(Inv, $"<circle cx=\"{F(Px(p.X))}\" cy=\"{F(Py(p.Y))}\" r=\"3.5\" fill=\"{s.Color}\"><title>{Esc(s.Name)}: {Esc(xLabel)} {Num(p.X)}, {Num(p.Y)}</title></circle>");
            sb.Append("</g>");
        }
        Legend(sb, series.Select(s => (s.Name, s.Color)).ToList(), Height);
        return Close(sb);
    }

    /// <summary>Horizontal grouped bars: one row per category, one bar per series, the value axis at the bottom.</summary>
    public static string Bars(string title, string valueLabel, string categoryLabel, IReadOnlyList<string> categories, IReadOnlyList<BarSeries> series)
    {
        const int left = 230;
        var rowHeight = Math.Max(14, 10 * series.Count + 8);
        var height = Top + Bottom + Math.Max(1, categories.Count) * rowHeight;
        var vals = series.SelectMany(s => s.Values).Where(double.IsFinite).ToList();
        double lo = Math.Min(0, vals.Count == 0 ? 0 : vals.Min()), hi = Math.Max(0, vals.Count == 0 ? 1 : vals.Max());
        var xt = Ticks(lo, hi > lo ? hi : lo + 1);
        double Px(double v) => left + (v - xt[0]) / (xt[^1] - xt[0]) * (Width - left - Right);
        var sb = Open("bar", title, Width, height + LegendHeight(series.Count));
        foreach (var t in xt)
            sb.Append(Inv, $"<line x1=\"{F(Px(t))}\" y1=\"{Top}\" x2=\"{F(Px(t))}\" y2=\"{height - Bottom}\" stroke=\"#e3e3e3\"/><text class=\"tick\" x=\"{F(Px(t))}\" y=\"{height - Bottom + 16}\" text-anchor=\"{TickAnchor(t, xt)}\">{Num(t)}</text>");
        sb.Append(Inv, $"<line x1=\"{left}\" y1=\"{height - Bottom}\" x2=\"{Width - Right}\" y2=\"{height - Bottom}\" stroke=\"#333\"/>");
        sb.Append(Inv, $"<text class=\"x-label\" x=\"{(left + Width - Right) / 2}\" y=\"{height - 14}\" text-anchor=\"middle\">{Esc(valueLabel)}</text>");
        sb.Append(Inv, $"<text class=\"y-label\" x=\"14\" y=\"{Top - 10}\">{Esc(categoryLabel)}</text>");
        var barHeight = (rowHeight - 6.0) / Math.Max(1, series.Count);
        for (var c = 0; c < categories.Count; c++)
        {
            var y = Top + c * rowHeight;
            sb.Append(Inv, $"<text class=\"tick\" x=\"{left - 6}\" y=\"{F(y + rowHeight / 2.0 + 4)}\" text-anchor=\"end\">{Esc(Clip(categories[c], 28))}</text>");
            for (var s = 0; s < series.Count; s++)
            {
                var v = series[s].Values[c];
                if (!double.IsFinite(v)) continue;
                double a = Px(Math.Min(0, v)), b = Px(Math.Max(0, v));
                sb.Append(Inv, $"<rect class=\"bar\" x=\"{F(a)}\" y=\"{F(y + 3 + s * barHeight)}\" width=\"{F(Math.Max(0.5, b - a))}\" height=\"{F(barHeight - 1)}\" fill=\"{series[s].Color}\"><title>{Esc(categories[c])}, {Esc(series[s].Name)}: {Num(v)} ({Esc(valueLabel)})</title></rect>");
            }
        }
        Legend(sb, series.Select(s => (s.Name, s.Color)).ToList(), height);
        return Close(sb);
    }

    /// <summary>A PE grid: x = PE column (west to east), y = PE row (north at the top), a colour bar with the stat's range
    /// and unit; each cell's PE range and value on hover.</summary>
    public static string Heatmap(string title, HeatGrid g)
    {
        const int size = 300, left = 70, top = 40, barWidth = 16;
        var cell = (double)size / Math.Max(g.Columns, g.Rows);
        double w = cell * g.Columns, h = cell * g.Rows;
        var width = Math.Max(460, (int)(left + w + 130));
        var height = (int)(top + h + 60);
        var finite = g.Values.Where(double.IsFinite).ToList();
        double lo = finite.Count == 0 ? 0 : Math.Min(0, finite.Min()), hi = finite.Count == 0 ? 1 : finite.Max();
        if (hi <= lo) hi = lo + 1;
        var sb = Open("heatmap", title, width, height);
        for (var j = 0; j < g.Rows; j++)
            for (var i = 0; i < g.Columns; i++)
            {
                var v = g.Values[j * g.Columns + i];
                int xa = i * g.BinWidth, xb = Math.Min(g.WidthPes, xa + g.BinWidth) - 1, ya = j * g.BinHeight, yb = Math.Min(g.HeightPes, ya + g.BinHeight) - 1;
                var pes = xa == xb && ya == yb ? $"PE ({xa}, {ya})" : $"PEs x {xa}-{xb}, y {ya}-{yb} (mean)";
                sb.Append(Inv, $"<rect class=\"cell\" x=\"{F(left + i * cell)}\" y=\"{F(top + j * cell)}\" width=\"{F(cell + 0.3)}\" height=\"{F(cell + 0.3)}\" fill=\"{Viridis((v - lo) / (hi - lo))}\"><title>{pes}: {Esc(g.Stat)} {Num(v)} {Esc(g.Unit)}</title></rect>");
            }
        sb.Append(Inv, $"<rect x=\"{left}\" y=\"{top}\" width=\"{F(w)}\" height=\"{F(h)}\" fill=\"none\" stroke=\"#333\"/>");
        foreach (var (frac, anchor) in new[] { (0.0, "start"), (0.5, "middle"), (1.0, "end") })
        {
            var pe = (int)Math.Round(frac * (g.WidthPes - 1));
            sb.Append(Inv, $"<text class=\"tick\" x=\"{F(left + frac * w)}\" y=\"{F(top + h + 16)}\" text-anchor=\"{anchor}\">{pe}</text>");
            var row = (int)Math.Round(frac * (g.HeightPes - 1));
            sb.Append(Inv, $"<text class=\"tick\" x=\"{left - 6}\" y=\"{F(top + frac * h + (frac == 0 ? 10 : frac == 1 ? 0 : 4))}\" text-anchor=\"end\">{row}</text>");
        }
        sb.Append(Inv, $"<text class=\"x-label\" x=\"{F(left + w / 2)}\" y=\"{F(top + h + 38)}\" text-anchor=\"middle\">PE column x (west to east)</text>");
        sb.Append(Inv, $"<text class=\"y-label\" transform=\"translate(18,{F(top + h / 2)}) rotate(-90)\" text-anchor=\"middle\">PE row y (north to south)</text>");
        // Colour bar: top = the largest value.
        var bx = left + w + 30;
        sb.Append("<g class=\"colorbar\">");
        const int steps = 32;
        for (var k = 0; k < steps; k++)
            sb.Append(Inv, $"<rect x=\"{F(bx)}\" y=\"{F(top + k * h / steps)}\" width=\"{barWidth}\" height=\"{F(h / steps + 0.3)}\" fill=\"{Viridis(1 - (k + 0.5) / steps)}\"/>");
        sb.Append(Inv, $"<rect x=\"{F(bx)}\" y=\"{top}\" width=\"{barWidth}\" height=\"{F(h)}\" fill=\"none\" stroke=\"#333\"/>");
        sb.Append(Inv, $"<text class=\"tick\" x=\"{F(bx + barWidth + 4)}\" y=\"{top + 10}\">{Num(hi)}</text>");
        sb.Append(Inv, $"<text class=\"tick\" x=\"{F(bx + barWidth + 4)}\" y=\"{F(top + h)}\">{Num(lo)}</text>");
        sb.Append(Inv, $"<text class=\"colorbar-label\" transform=\"translate({F(bx + barWidth + 56)},{F(top + h / 2)}) rotate(-90)\" text-anchor=\"middle\">{Esc(g.Stat)} ({Esc(g.Unit)})</text>");
        sb.Append("</g>");
        return Close(sb);
    }

    private static StringBuilder Open(string kind, string title, int width, int height)
    {
        var sb = new StringBuilder();
        sb.Append(Inv, $"<figure class=\"chart\" data-chart=\"{kind}\"><svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">");
        sb.Append(Inv, $"<title>{Esc(title)}</title><rect width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>");
        sb.Append(Inv, $"<text class=\"chart-title\" x=\"{width / 2}\" y=\"22\" text-anchor=\"middle\">{Esc(title)}</text>");
        return sb;
    }

    private static string Close(StringBuilder sb) => sb.Append("</svg></figure>").ToString();

    private static void Axes(StringBuilder sb, double[] xt, double[] yt, Func<double, double> px, Func<double, double> py, string xLabel, string yLabel)
    {
        foreach (var t in yt)
            sb.Append(Inv, $"<line x1=\"{Left}\" y1=\"{F(py(t))}\" x2=\"{Width - Right}\" y2=\"{F(py(t))}\" stroke=\"#e3e3e3\"/><text class=\"tick\" x=\"{Left - 6}\" y=\"{F(py(t) + 4)}\" text-anchor=\"end\">{Num(t)}</text>");
        foreach (var t in xt)
            sb.Append(Inv, $"<line x1=\"{F(px(t))}\" y1=\"{Height - Bottom}\" x2=\"{F(px(t))}\" y2=\"{Height - Bottom + 4}\" stroke=\"#333\"/><text class=\"tick\" x=\"{F(px(t))}\" y=\"{Height - Bottom + 18}\" text-anchor=\"{TickAnchor(t, xt)}\">{Num(t)}</text>");
        sb.Append(Inv, $"<line x1=\"{Left}\" y1=\"{Top}\" x2=\"{Left}\" y2=\"{Height - Bottom}\" stroke=\"#333\"/><line x1=\"{Left}\" y1=\"{Height - Bottom}\" x2=\"{Width - Right}\" y2=\"{Height - Bottom}\" stroke=\"#333\"/>");
        sb.Append(Inv, $"<text class=\"x-label\" x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 14}\" text-anchor=\"middle\">{Esc(xLabel)}</text>");
        sb.Append(Inv, $"<text class=\"y-label\" transform=\"translate(18,{(Top + Height - Bottom) / 2}) rotate(-90)\" text-anchor=\"middle\">{Esc(yLabel)}</text>");
    }

    private static int LegendHeight(int items) => 8 + (items + 1) / 2 * 18;

    /// <summary>The legend below the chart, in series order, two entries a row.</summary>
    private static void Legend(StringBuilder sb, IReadOnlyList<(string Name, string Color)> items, int top)
    {
        sb.Append("<g class=\"legend\">");
        for (var k = 0; k < items.Count; k++)
        {
            double x = Left + k % 2 * (Width - Left - Right) / 2.0, y = top + 4 + k / 2 * 18;
            sb.Append(Inv, $"<rect x=\"{F(x)}\" y=\"{F(y)}\" width=\"14\" height=\"9\" fill=\"{items[k].Color}\"/><text class=\"legend-label\" x=\"{F(x + 20)}\" y=\"{F(y + 9)}\">{Esc(items[k].Name)}</text>");
        }
        sb.Append("</g>");
    }

    /// <summary>The x axis's last tick sits at the plot's right edge, a few pixels from the picture's: its label ends
    /// there (centred, a wide one such as "1,000,000" was cut off); the others are centred on their tick.</summary>
    private static string TickAnchor(double t, double[] ticks) => t == ticks[^1] && ticks.Length > 1 ? "end" : "middle";

    /// <summary>"Nice" ticks (1, 2, 2.5, 5 x 10^k) covering [lo, hi], about six of them.</summary>
    internal static double[] Ticks(double lo, double hi)
    {
        if (!double.IsFinite(lo) || !double.IsFinite(hi)) return [0, 1];
        var span = hi - lo;
        if (!(span > 0) || !double.IsFinite(span)) return [lo, lo + Math.Max(1, Math.Abs(lo))];
        var raw = span / 6;
        var mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1, 2, 2.5, 5, 10 }.Select(m => m * mag).First(s => s >= raw);
        var start = Math.Floor(lo / step) * step;
        var end = Math.Ceiling(hi / step) * step;
        var n = (end - start) / step;
        return n is >= 1 and <= 100 ? Enumerable.Range(0, (int)Math.Round(n) + 1).Select(i => start + i * step).ToArray() : [lo, hi];
    }

    /// <summary>Viridis, by linear interpolation between five of its stops; t in [0, 1].</summary>
    private static string Viridis(double t)
    {
        (double R, double G, double B)[] stops = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)];
        if (!double.IsFinite(t)) return "#cccccc";
        t = Math.Clamp(t, 0, 1) * (stops.Length - 1);
        var k = Math.Min(stops.Length - 2, (int)t);
        var f = t - k;
        int C(double a, double b) => (int)Math.Round(a + (b - a) * f);
        return string.Create(Inv, $"#{C(stops[k].R, stops[k + 1].R):x2}{C(stops[k].G, stops[k + 1].G):x2}{C(stops[k].B, stops[k + 1].B):x2}");
    }

    private static string F(double v) => v.ToString("0.##", Inv);

    /// <summary>A value as a person reads it: 4 significant digits, thousands grouped, no exponent below 1e9.</summary>
    internal static string Num(double v)
    {
        if (!double.IsFinite(v)) return "n/a";
        if (v == 0) return "0";
        if (Math.Abs(v) >= 1e9 || Math.Abs(v) < 1e-3)
        {
            var e = (int)Math.Floor(Math.Log10(Math.Abs(v)));
            var m = v / Math.Pow(10, e);
            return string.Create(Inv, $"{m:0.###}e{e}");
        }
        return Math.Abs(v) >= 1000 ? v.ToString("N0", Inv) : v.ToString("G4", Inv);
    }

    private static string Clip(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";

    internal static string Esc(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");
}

// One self-contained HTML page (inline style, inline SVG, no script, nothing fetched from the network), written as
// well-formed XHTML so that a test can parse it.
using System.Text;
using static Wafer.Cli.Reports.Html.SvgChart;

namespace Wafer.Cli.Reports.Html;

internal sealed class HtmlPage(string title, string subtitle)
{
    private readonly StringBuilder _body = new();

    private const string Style = """
        body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; padding: 0 1em; }
        h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
        .subtitle { color: #555; margin-top: 0; } p.note { color: #444; font-size: 0.92em; }
        table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
        th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
        th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
        figure.chart { margin: 1em 0; } figure.chart[data-chart="heatmap"] { display: inline-block; margin-right: 1em; } svg text { font-size: 12px; fill: #222; } svg .chart-title { font-size: 15px; font-weight: 600; }
        svg .x-label, svg .y-label, svg .colorbar-label { font-size: 13px; } svg .legend-label { font-size: 12px; }
        .bad { color: #b00020; font-weight: 600; } .good { color: #1b7f3b; }
        """;

    public void Heading(string text) => _body.Append("<h2>").Append(Esc(text)).Append("</h2>\n");

    public void Note(string text) => _body.Append("<p class=\"note\">").Append(Esc(text)).Append("</p>\n");

    public void Chart(string svg) => _body.Append(svg).Append('\n');

    /// <summary>A table; a cell whose text starts with '#' is right-aligned as a number (the '#' is dropped); one that
    /// starts with '!' is marked bad, '+' good.</summary>
    public void Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        _body.Append("<table><thead><tr>");
        foreach (var h in header) _body.Append("<th>").Append(Esc(h)).Append("</th>");
        _body.Append("</tr></thead><tbody>\n");
        foreach (var row in rows)
        {
            _body.Append("<tr>");
            foreach (var cell in row)
            {
                var (cls, text) = cell.Length > 0 ? cell[0] switch
                {
                    '#' => (" class=\"num\"", cell[1..]),
                    '!' => (" class=\"bad\"", cell[1..]),
                    '+' => (" class=\"good\"", cell[1..]),
                    _ => ("", cell),
                } : ("", cell);
                _body.Append("<td").Append(cls).Append('>').Append(Esc(text)).Append("</td>");
            }
            _body.Append("</tr>\n");
        }
        _body.Append("</tbody></table>\n");
    }

    /// <summary>A two-column table of name / value pairs.</summary>
    public void Facts(IEnumerable<(string Name, string Value)> facts) =>
        Table(["", "value"], facts.Select(f => (IReadOnlyList<string>)[f.Name, f.Value]));

    public string Render()
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>");
        sb.Append("<title>").Append(Esc(title)).Append("</title><style>").Append(Style).Append("</style></head>\n<body>\n");
        sb.Append("<h1>").Append(Esc(title)).Append("</h1>\n<p class=\"subtitle\">").Append(Esc(subtitle)).Append("</p>\n");
        sb.Append(_body);
        sb.Append("<p class=\"note\">Written by wafer; rebuild with <code>wafer report DIR</code>. Hover over a mark for its value.</p>\n</body></html>\n");
        return sb.ToString();
    }
}

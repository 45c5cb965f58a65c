// Writes run statistics: a JSON tree (with resolved config, seed and git revision) and a long-form CSV.
using System.Globalization;
using System.Text;
using System.Text.Json;
using Wafer.Fabric.Config;

namespace Wafer.Fabric.Stats;

public static class StatsWriter
{
    /// <summary>Per-PE rows go into the CSV only up to this many PEs (the full cs2 rectangle would be ~200 MB).</summary>
    public const int MaxPerPeCsvPes = 65_536;

    private static readonly string[] PortNames = ["North", "East", "South", "West", "Ramp"];

    public static string Json(RunStats stats, WaferConfig config, string program, IReadOnlyDictionary<string, object> parameters, long seed,
        IReadOnlyDictionary<string, double>? extra = null)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("program", program);
            w.WriteString("gitRevision", RunStats.GitRevision);
            w.WriteNumber("seed", seed);
            w.WritePropertyName("parameters");
            JsonSerializer.Serialize(w, parameters);
            w.WritePropertyName("config");
            JsonSerializer.Serialize(w, config, WaferConfigJson.Options);
            w.WriteStartArray("stats");
            foreach (var s in stats.Summary().Concat(extra?.Select(kv => new Stat(kv.Key, "", "program-specific result", kv.Value)) ?? []))
            {
                w.WriteStartObject();
                w.WriteString("name", s.Name);
                w.WriteString("unit", s.Unit);
                w.WriteString("meaning", s.Meaning);
                w.WriteNumber("value", s.Value);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>Long form: scope,x,y,stat,unit,value. Run-level rows first, then per-PE rows (small fabrics only).</summary>
    public static string Csv(RunStats stats)
    {
        var sb = new StringBuilder("scope,x,y,stat,unit,value\n");
        foreach (var s in stats.Summary()) sb.Append(CultureInfo.InvariantCulture, $"run,,,{s.Name},{s.Unit},{s.Value:R}\n");
        if (stats.PeCount > MaxPerPeCsvPes) return sb.ToString();
        for (var i = 0; i < stats.PeCount; i++)
        {
            int x = (int)(i % stats.Width), y = (int)(i / stats.Width);
            sb.Append(CultureInfo.InvariantCulture, $"pe,{x},{y},busyCycles,cycles,{stats.PeBusyCycles[i]}\n");
            sb.Append(CultureInfo.InvariantCulture, $"pe,{x},{y},idleCycles,cycles,{stats.Cycles - stats.PeBusyCycles[i]}\n");
            sb.Append(CultureInfo.InvariantCulture, $"pe,{x},{y},stallCycles,op-cycles,{stats.PeStallCycles[i]}\n");
            for (var p = 0; p < 5; p++)
                if (stats.PeLinkWavelets[i * 5 + p] != 0)
                    sb.Append(CultureInfo.InvariantCulture, $"pe,{x},{y},linkWavelets{PortNames[p]},wavelets,{stats.PeLinkWavelets[i * 5 + p]}\n");
            sb.Append(CultureInfo.InvariantCulture, $"pe,{x},{y},waveletsForwarded,wavelets,{stats.PeWavelets[i]}\n");
            sb.Append(CultureInfo.InvariantCulture, $"pe,{x},{y},sramBytes,B,{stats.PeSramBytes[i]}\n");
        }
        return sb.ToString();
    }
}

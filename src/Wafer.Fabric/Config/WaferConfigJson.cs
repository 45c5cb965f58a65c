// Loads and saves WaferConfig as JSON; unknown fields and bad values are errors that name the file and field.
using Wafer.Core;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Wafer.Fabric.Config;

public static class WaferConfigJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    };

    public static string Serialize(WaferConfig config) => JsonSerializer.Serialize(config, Options);

    /// <summary>Parses and validates; throws <see cref="ConfigException"/> with every problem on one line.</summary>
    public static WaferConfig Parse(string json, string source)
    {
        WaferConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<WaferConfig>(json, Options);
        }
        catch (JsonException e)
        {
            var where = e.Path is null ? "" : $" at {e.Path}";
            var line = e.LineNumber is null ? "" : $" (line {e.LineNumber + 1})";
            throw new ConfigException($"{source}: invalid wafer config{where}{line}: {FirstLine(e.Message)}");
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new ConfigException($"{source}: invalid wafer config: {FirstLine(e.Message)}");
        }
        if (config is null) throw new ConfigException($"{source}: wafer config is empty (null)");
        var errors = config.Validate();
        if (errors.Count > 0) throw new ConfigException($"{source}: invalid wafer config: {string.Join("; ", errors)}");
        return config;
    }

    public static WaferConfig Load(string path)
    {
        return Parse(InputFile.ReadAllText(path, InputFile.ConfigBytes, "wafer config"), path);
    }

    /// <summary>A preset name (tiny, cs2, cs3) or a path to a JSON file.</summary>
    public static WaferConfig Resolve(string presetOrPath)
    {
        if (WaferPresets.All.TryGetValue(presetOrPath, out var preset)) return preset;
        if (File.Exists(presetOrPath)) return Load(presetOrPath);
        throw new ConfigException($"--wafer: '{presetOrPath}' is neither a preset ({string.Join(", ", WaferPresets.All.Keys)}) nor an existing JSON file");
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}

// Model configs as JSON (camelCase properties of GptConfig, enums as strings); unknown fields and invalid shapes are
// errors naming the file. Also the form a checkpoint stores its model in.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Wafer.Core;

public static class GptConfigJson
{
    private static JsonSerializerOptions Options => ConfigJsonOptions.Strict;

    public static string Serialize(GptConfig cfg) => JsonSerializer.Serialize(cfg, Options);

    public static GptConfig Parse(string json, string source)
    {
        GptConfig? cfg;
        try { cfg = JsonSerializer.Deserialize<GptConfig>(json, Options); }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new WaferInputException($"model config {source}: {e.Message.ReplaceLineEndings(" ")}");
        }
        if (cfg is null) throw new WaferInputException($"model config {source}: empty");
        var errors = cfg.Validate();
        if (errors.Count > 0) throw new WaferInputException($"model config {source}: {string.Join("; ", errors)}");
        return cfg;
    }

    /// <summary>A preset name, or a path to a JSON config.</summary>
    public static GptConfig Resolve(string presetOrPath)
    {
        var preset = GptPresets.Find(presetOrPath);
        if (preset is not null) return preset;
        if (!File.Exists(presetOrPath))
            throw new WaferInputException($"model '{presetOrPath}' is neither a preset ({string.Join(", ", GptPresets.All.Select(p => p.Name))}) nor a JSON file");
        var cfg = Parse(InputFile.ReadAllText(presetOrPath, InputFile.ConfigBytes, "model config"), presetOrPath);
        return cfg.Name == "custom" ? cfg with { Name = Path.GetFileNameWithoutExtension(presetOrPath) } : cfg;
    }
}

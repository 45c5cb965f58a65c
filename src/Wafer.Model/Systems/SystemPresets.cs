// System presets by name and user-editable JSON files ({"kind": "cerebras" | "gpu", ...the record's fields}).
using Wafer.Core;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Wafer.Model.Systems;

public static class SystemPresets
{
    public static IReadOnlyList<CerebrasSystem> Cerebras { get; } = [CerebrasSystem.Cs2, CerebrasSystem.Cs3];
    public static IReadOnlyList<GpuSystem> Gpus { get; } = [GpuSystem.A100_40, GpuSystem.A100_80, GpuSystem.H100];

    private static JsonSerializerOptions Options => ConfigJsonOptions.Strict;

    /// <summary>A preset name or a JSON file; returns exactly one of the two kinds.</summary>
    public static (CerebrasSystem? Wafer, GpuSystem? Gpu) Resolve(string presetOrPath)
    {
        if (Cerebras.FirstOrDefault(s => s.Name == presetOrPath) is { } c) return (c, null);
        if (Gpus.FirstOrDefault(s => s.Name == presetOrPath) is { } g) return (null, g);
        if (!File.Exists(presetOrPath))
            throw new WaferInputException($"system '{presetOrPath}' is neither a preset ({string.Join(", ", Cerebras.Select(s => s.Name).Concat(Gpus.Select(s => s.Name)))}) nor a JSON file");
        try
        {
            var node = JsonNode.Parse(InputFile.ReadAllText(presetOrPath, InputFile.ConfigBytes, "system file"), documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                ?? throw new WaferInputException($"system file {presetOrPath}: not a JSON object");
            var kind = node["kind"] is JsonValue kv && kv.TryGetValue<string>(out var k) ? k : node["kind"]?.ToJsonString();
            node.Remove("kind");
            switch (kind)
            {
                case "gpu":
                    var gpu = node.Deserialize<GpuSystem>(Options)!;
                    Check(gpu.Validate(), presetOrPath);
                    return (null, gpu);
                case "cerebras":
                    var wafer = node["wafer"] is JsonObject w ? Fabric.Config.WaferConfigJson.Parse(w.ToJsonString(), presetOrPath + " (wafer)") : Fabric.Config.WaferPresets.Cs2;
                    node.Remove("wafer");
                    var sys = node.Deserialize<CerebrasSystem>(Options)! with { Wafer = wafer };
                    Check(sys.Validate(), presetOrPath);
                    return (sys, null);
                default:
                    throw new WaferInputException($"system file {presetOrPath}: \"kind\" must be \"cerebras\" or \"gpu\" (is {(kind is null ? "missing" : $"\"{kind}\"")})");
            }
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException or FormatException)
        {
            throw new WaferInputException($"system file {presetOrPath}: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    private static void Check(IReadOnlyList<string> errors, string path)
    {
        if (errors.Count > 0) throw new WaferInputException($"system file {path}: {string.Join("; ", errors)}");
    }

    public static string ToJson(GpuSystem gpu)
    {
        var node = JsonSerializer.SerializeToNode(gpu, Options)!.AsObject();
        var result = new JsonObject { ["kind"] = "gpu" };
        foreach (var (k, v) in node) result[k] = v?.DeepClone();
        return result.ToJsonString(Options);
    }
}

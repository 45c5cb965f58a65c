// The JSON options of the model and system configs: camelCase names, enums as camelCase strings, and an unknown or
// repeated field an error (a misspelt field must not silently keep its default).
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Wafer.Core;

public static class ConfigJsonOptions
{
    public static JsonSerializerOptions Strict { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };
}

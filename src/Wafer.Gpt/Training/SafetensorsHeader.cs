// A safetensors header checked against the format's rules before any field is trusted
// (https://github.com/huggingface/safetensors, "Format"): an 8-byte little-endian header length N, N bytes of a UTF-8
// JSON object without duplicate keys, each tensor {"dtype": string, "shape": [non-negative integers],
// "data_offsets": [begin, end]} with end - begin = product(shape) x the dtype's size, the tensors' byte ranges tiling
// the data buffer exactly (no overlap, no hole, nothing after it), and an optional "__metadata__" of strings.
using Wafer.Core;
using System.Text;
using System.Text.Json;

namespace Wafer.Gpt.Training;

public sealed record TensorEntry(string Name, string Dtype, long[] Shape, long Begin, long End);

public sealed class SafetensorsHeader
{
    /// <summary>Headers larger than this are refused (a checkpoint of any model here has a few hundred KB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private static readonly Dictionary<string, int> DtypeBytes = new(StringComparer.Ordinal)
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1, ["U8"] = 1,
        ["U16"] = 2, ["U32"] = 4, ["U64"] = 8, ["BOOL"] = 1, ["F8_E4M3"] = 1, ["F8_E5M2"] = 1,
    };

    public IReadOnlyDictionary<string, TensorEntry> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>File offset of the data buffer (8 + N).</summary>
    public long DataStart { get; }

    private SafetensorsHeader(Dictionary<string, TensorEntry> tensors, Dictionary<string, string> metadata, long dataStart)
    {
        Tensors = tensors;
        Metadata = metadata;
        DataStart = dataStart;
    }

    /// <summary>Reads and checks the header of the file at path; `bad(why)` makes the error naming the file.</summary>
    public static SafetensorsHeader Read(string path, Func<string, Exception> bad)
    {
        try { return ReadChecked(path, bad); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw bad($"it cannot be read ({e.Message})"); }
    }

    private static SafetensorsHeader ReadChecked(string path, Func<string, Exception> bad)
    {
        if (path.Length == 0) throw bad("the path is empty");
        if (Directory.Exists(path)) throw bad("it is a folder");
        if (!File.Exists(path)) throw new WaferInputException($"checkpoint {path} does not exist");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (!fs.CanSeek) throw bad("it is not a regular file");
        Span<byte> len = stackalloc byte[8];
        if (fs.Read(len) != 8) throw bad("it is shorter than a safetensors header (8 bytes of length)");
        var n = BitConverter.ToUInt64(len);
        if (n < 2 || n > MaxHeaderBytes || (long)n > fs.Length - 8) throw bad($"its header length {n} does not fit the file of {fs.Length} bytes");
        var bytes = new byte[n];
        fs.ReadExactly(bytes);
        var dataStart = 8 + (long)n;
        var dataBytes = fs.Length - dataStart;
        string text;
        try { text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
        catch (DecoderFallbackException) { throw bad("its header is not UTF-8"); }
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text, new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 16 }); }
        catch (JsonException e) { throw bad($"its header is not valid JSON ({e.Message.ReplaceLineEndings(" ")})"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw bad("its header is not a JSON object");
            var tensors = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object) throw bad("__metadata__ is not an object");
                    foreach (var m in p.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw bad($"metadata '{m.Name}' is a {m.Value.ValueKind}, the format allows only strings");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                tensors[p.Name] = Entry(p.Name, p.Value, bad);
            }
            // The tensors tile the data buffer: sorted by begin, each starts where the one before ends.
            long at = 0;
            foreach (var t in tensors.Values.OrderBy(t => t.Begin).ThenBy(t => t.End))
            {
                if (t.Begin != at) throw bad(t.Begin < at ? $"tensor {t.Name} overlaps another (bytes {t.Begin}..{t.End})" : $"the data buffer has a hole before tensor {t.Name} (bytes {at}..{t.Begin})");
                at = t.End;
            }
            if (at != dataBytes) throw bad(at < dataBytes ? $"{dataBytes - at} bytes follow the last tensor (truncated or appended?)" : $"the tensors need {at} bytes of data, the file holds {dataBytes} (truncated)");
            return new SafetensorsHeader(tensors, metadata, dataStart);
        }
    }

    private static TensorEntry Entry(string name, JsonElement e, Func<string, Exception> bad)
    {
        if (e.ValueKind != JsonValueKind.Object) throw bad($"tensor {name} is not an object");
        string? dtype = null;
        long[]? shape = null, offsets = null;
        foreach (var f in e.EnumerateObject())
            switch (f.Name)
            {
                case "dtype": dtype = f.Value.ValueKind == JsonValueKind.String ? f.Value.GetString() : throw bad($"tensor {name}: dtype is not a string"); break;
                case "shape": shape = Integers(name, "shape", f.Value, bad); break;
                case "data_offsets": offsets = Integers(name, "data_offsets", f.Value, bad); break;
                default: throw bad($"tensor {name} has an unknown field '{f.Name}'");
            }
        if (dtype is null || shape is null || offsets is null) throw bad($"tensor {name} lacks {(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}");
        if (!DtypeBytes.TryGetValue(dtype, out var size)) throw bad($"tensor {name} has unknown dtype '{dtype}'");
        if (offsets.Length != 2 || offsets[0] > offsets[1]) throw bad($"tensor {name}: data_offsets must be [begin, end] with begin <= end");
        if (shape.Length > 8) throw bad($"tensor {name} has {shape.Length} dimensions");
        var count = 1L;
        foreach (var d in shape)
            if (d > 0 && count > long.MaxValue / 8 / d) throw bad($"tensor {name}: shape [{string.Join(", ", shape)}] is too large");
            else count *= d;
        if (offsets[1] - offsets[0] != count * size)
            throw bad($"tensor {name}: {dtype} [{string.Join(", ", shape)}] is {count * size} bytes but data_offsets span {offsets[1] - offsets[0]}");
        return new TensorEntry(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static long[] Integers(string name, string field, JsonElement e, Func<string, Exception> bad)
    {
        if (e.ValueKind != JsonValueKind.Array) throw bad($"tensor {name}: {field} is not an array");
        var values = new List<long>();
        foreach (var v in e.EnumerateArray())
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var x) || x < 0)
                throw bad($"tensor {name}: {field} holds {v.GetRawText()}, not a non-negative integer");
            values.Add(x);
        }
        return [.. values];
    }
}

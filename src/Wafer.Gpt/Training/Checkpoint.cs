// Checkpoints as safetensors (https://github.com/huggingface/safetensors: u64 little-endian header length, a JSON
// header of {name: {dtype, shape, data_offsets}} plus "__metadata__" of strings, then the raw little-endian data), so
// Python tools read the weights directly. Tensors "<segment>.<tensor>" are the fp32 weights; ".adam_m" and ".adam_v"
// the AdamW moments. Metadata: the model config, tokenizer, optimizer step, training step, sampler state and history.
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wafer.Gpt.MemoryX;

namespace Wafer.Gpt.Training;

public static class Checkpoint
{
    public const string Format = "wafer-checkpoint-1";
    private const int ChunkFloats = 1 << 20;
    private static readonly (StateKind Kind, string Suffix)[] Kinds = [(StateKind.Weights, ""), (StateKind.FirstMoment, ".adam_m"), (StateKind.SecondMoment, ".adam_v")];

    /// <summary>Writes store's weights and moments plus metadata to path atomically (pending updates applied first).</summary>
    public static void Save(string path, WeightStore store, IReadOnlyDictionary<string, string> metadata)
    {
        store.ApplyAllPending();
        var layout = store.Layout;
        var header = new JsonObject();
        var meta = new JsonObject { ["format"] = Format, ["optimizerStep"] = store.Step.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        foreach (var (k, v) in metadata) meta[k] = v;
        header["__metadata__"] = meta;
        long at = 0;
        foreach (var (kind, suffix) in Kinds)
            foreach (var seg in layout.Segments)
                foreach (var slot in seg.Tensors)
                {
                    header[$"{seg.Name}.{slot.Name}{suffix}"] = new JsonObject
                    {
                        ["dtype"] = "F32",
                        ["shape"] = new JsonArray(slot.Shape.Select(d => (JsonNode)d).ToArray()),
                        ["data_offsets"] = new JsonArray(at, at + 4 * slot.Count),
                    };
                    at += 4 * slot.Count;
                }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        var pad = (8 - headerBytes.Length % 8) % 8; // the format allows trailing spaces; keeps data 8-byte aligned
        AtomicFile.Write(path, s =>
        {
            Span<byte> len = stackalloc byte[8];
            BitConverter.TryWriteBytes(len, (ulong)(headerBytes.Length + pad));
            s.Write(len);
            s.Write(headerBytes);
            for (var i = 0; i < pad; i++) s.WriteByte((byte)' ');
            var buffer = new float[ChunkFloats];
            foreach (var (kind, _) in Kinds)
                for (var si = 0; si < layout.Segments.Count; si++)
                    foreach (var slot in layout.Segments[si].Tensors)
                        for (long o = 0; o < slot.Count; o += ChunkFloats)
                        {
                            var chunk = buffer.AsSpan(0, (int)Math.Min(ChunkFloats, slot.Count - o));
                            store.ReadState(si, kind, slot.Offset + o, chunk);
                            s.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(chunk));
                        }
        });
    }

    /// <summary>Reads the metadata of a checkpoint; a missing, truncated or foreign file is a GptInputException.</summary>
    public static Dictionary<string, string> ReadMetadata(string path)
    {
        var (header, _) = ReadHeader(path);
        var meta = header["__metadata__"] as JsonObject ?? throw Bad(path, "it has no __metadata__");
        var result = meta.ToDictionary(p => p.Key, p => p.Value?.GetValue<string>() ?? "");
        if (!result.TryGetValue("format", out var f) || f != Format) throw Bad(path, $"its format is '{f}', expected '{Format}'");
        return result;
    }

    /// <summary>Loads weights and moments into store, whose layout must match the checkpoint's tensors exactly.</summary>
    public static void Load(string path, WeightStore store)
    {
        var (header, dataStart) = ReadHeader(path);
        var layout = store.Layout;
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var buffer = new float[ChunkFloats];
        foreach (var (kind, suffix) in Kinds)
            for (var si = 0; si < layout.Segments.Count; si++)
                foreach (var slot in layout.Segments[si].Tensors)
                {
                    var name = $"{layout.Segments[si].Name}.{slot.Name}{suffix}";
                    var entry = header[name] as JsonObject ?? throw Bad(path, $"tensor {name} is missing (checkpoint of a different model?)");
                    var shape = entry["shape"]!.AsArray().Select(n => n!.GetValue<long>()).ToArray();
                    if (!shape.SequenceEqual(slot.Shape) || entry["dtype"]?.GetValue<string>() != "F32")
                        throw Bad(path, $"tensor {name} is {entry["dtype"]} [{string.Join(", ", shape)}], the model needs F32 [{string.Join(", ", slot.Shape)}]");
                    var offsets = entry["data_offsets"]!.AsArray().Select(n => n!.GetValue<long>()).ToArray();
                    if (offsets[1] - offsets[0] != 4 * slot.Count || dataStart + offsets[1] > fs.Length) throw Bad(path, $"tensor {name} is truncated");
                    fs.Position = dataStart + offsets[0];
                    for (long o = 0; o < slot.Count; o += ChunkFloats)
                    {
                        var chunk = buffer.AsSpan(0, (int)Math.Min(ChunkFloats, slot.Count - o));
                        fs.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(chunk));
                        store.WriteState(si, kind, slot.Offset + o, chunk);
                    }
                }
        var meta = ReadMetadata(path);
        store.RestoreStep(int.Parse(meta["optimizerStep"], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static (JsonObject Header, long DataStart) ReadHeader(string path)
    {
        if (!File.Exists(path)) throw new GptInputException($"checkpoint {path} does not exist");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Span<byte> len = stackalloc byte[8];
        if (fs.Read(len) != 8) throw Bad(path, "it is shorter than a safetensors header");
        var n = BitConverter.ToUInt64(len);
        if (n == 0 || n > 100_000_000 || (long)n > fs.Length - 8) throw Bad(path, $"its header length {n} does not fit the file of {fs.Length} bytes");
        var bytes = new byte[n];
        fs.ReadExactly(bytes);
        try
        {
            return (JsonNode.Parse(bytes) as JsonObject ?? throw Bad(path, "its header is not a JSON object"), 8 + (long)n);
        }
        catch (JsonException e) { throw Bad(path, $"its header is not valid JSON ({e.Message})"); }
    }

    private static GptInputException Bad(string path, string why) => new($"checkpoint {path} is not usable: {why}");
}

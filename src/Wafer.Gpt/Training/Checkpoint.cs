// Checkpoints as safetensors (https://github.com/huggingface/safetensors: u64 little-endian header length, a JSON
// header of {name: {dtype, shape, data_offsets}} plus "__metadata__" of strings, then the raw little-endian data), so
// Python tools read the weights directly. Tensors "<segment>.<tensor>" are the fp32 weights; ".adam_m" and ".adam_v"
// the AdamW moments. Metadata: the model config, tokenizer, optimizer step, training step, sampler state and history.
using Wafer.Core;
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

    /// <summary>Reads the metadata of a checkpoint; a missing, truncated, malformed or foreign file is a WaferInputException.</summary>
    public static Dictionary<string, string> ReadMetadata(string path)
    {
        var header = SafetensorsHeader.Read(path, why => Bad(path, why));
        var result = new Dictionary<string, string>(header.Metadata, StringComparer.Ordinal);
        if (result.Count == 0) throw Bad(path, "it has no __metadata__ (not a wafer checkpoint)");
        if (!result.TryGetValue("format", out var f) || f != Format) throw Bad(path, $"its format is '{f}', expected '{Format}'");
        return result;
    }

    /// <summary>Loads weights and moments into store, whose layout must match the checkpoint's tensors exactly.</summary>
    public static void Load(string path, WeightStore store, long optimizerStep)
    {
        try { LoadChecked(path, store, optimizerStep); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Bad(path, $"it cannot be read ({e.Message})"); }
    }

    private static void LoadChecked(string path, WeightStore store, long optimizerStep)
    {
        var header = SafetensorsHeader.Read(path, why => Bad(path, why));
        var layout = store.Layout;
        var expected = layout.Segments.Sum(s => s.Tensors.Count) * Kinds.Length;
        if (header.Tensors.Count != expected) throw Bad(path, $"it holds {header.Tensors.Count} tensors, the model has {expected} (checkpoint of a different model?)");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var buffer = new float[ChunkFloats];
        foreach (var (kind, suffix) in Kinds)
            for (var si = 0; si < layout.Segments.Count; si++)
                foreach (var slot in layout.Segments[si].Tensors)
                {
                    var name = $"{layout.Segments[si].Name}.{slot.Name}{suffix}";
                    if (!header.Tensors.TryGetValue(name, out var entry)) throw Bad(path, $"tensor {name} is missing (checkpoint of a different model?)");
                    if (!entry.Shape.SequenceEqual(slot.Shape) || entry.Dtype != "F32")
                        throw Bad(path, $"tensor {name} is {entry.Dtype} [{string.Join(", ", entry.Shape)}], the model needs F32 [{string.Join(", ", slot.Shape)}]");
                    fs.Position = header.DataStart + entry.Begin;
                    for (long o = 0; o < slot.Count; o += ChunkFloats)
                    {
                        var chunk = buffer.AsSpan(0, (int)Math.Min(ChunkFloats, slot.Count - o));
                        fs.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(chunk));
                        foreach (var v in chunk)
                            if (!float.IsFinite(v)) throw Bad(path, $"tensor {name} holds {v} (a diverged run's state is not a starting point)");
                        store.WriteState(si, kind, slot.Offset + o, chunk);
                    }
                }
        store.RestoreStep(checked((int)optimizerStep));
    }

    private static WaferInputException Bad(string path, string why) => new($"checkpoint {path} is not usable: {why}");
}

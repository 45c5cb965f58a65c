// Bad checkpoints from a valid safetensors file: every field of the format (header length, JSON types, dtype, shape,
// data_offsets: negative, reversed, overlapping, into the header, past the end, all at 0; duplicate and missing keys),
// the metadata's every value (types, ranges, the model and tokenizer), truncation, and trailing bytes.
using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace Wafer.Fuzz;

public static class CheckpointMutator
{
    public static byte[] Mutate(byte[] valid, Rand r)
    {
        var n = (long)BinaryPrimitives.ReadUInt64LittleEndian(valid);
        var headerText = Encoding.UTF8.GetString(valid, 8, (int)n).TrimEnd(' ');
        var data = valid[(8 + (int)n)..];
        switch (r.Next(10))
        {
            case 0: // the length field
            {
                var b = (byte[])valid.Clone();
                BinaryPrimitives.WriteUInt64LittleEndian(b, r.Pick(0UL, 7UL, (ulong)n + 1, (ulong)n - 1, (ulong)valid.Length, ulong.MaxValue, 1UL << 40, (ulong)n + 8));
                return b;
            }
            case 1: return valid[..r.Next(valid.Length)]; // truncated anywhere
            case 2: return [.. valid, .. Enumerable.Range(0, r.Next(1, 64)).Select(i => (byte)(i * 37))]; // trailing bytes
            case 3: // data bytes changed: a valid file with other weights (or NaN ones)
            {
                var b = (byte[])valid.Clone();
                for (var i = 0; i < r.Next(1, 20); i++) b[8 + n + r.Next(data.Length)] = r.Pick<byte>(0xFF, 0x7F, 0x00, 0xC0);
                return b;
            }
            case 4: return Build(JsonMutator.Mutate(headerText, r), data);
            case 5: return Build(Encoding.UTF8.GetBytes(MutateTensor(headerText, r)), data);
            case 6:
            case 7: return Build(Encoding.UTF8.GetBytes(MutateMetadata(headerText, r)), data);
            case 8: return Build(Encoding.UTF8.GetBytes(MutateOffsetsAll(headerText, r)), data);
            default: // a key twice
            {
                var root = JsonNode.Parse(headerText)!.AsObject();
                var (key, value) = root.ElementAt(r.Next(root.Count));
                return Build(Encoding.UTF8.GetBytes("{" + $"\"{key}\": {value!.ToJsonString()}, " + headerText[1..]), data);
            }
        }
    }

    private static byte[] Build(byte[] header, byte[] data)
    {
        var pad = (8 - header.Length % 8) % 8;
        var b = new byte[8 + header.Length + pad + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)(header.Length + pad));
        header.CopyTo(b, 8);
        for (var i = 0; i < pad; i++) b[8 + header.Length + i] = (byte)' ';
        data.CopyTo(b, 8 + header.Length + pad);
        return b;
    }

    private static string MutateTensor(string headerText, Rand r)
    {
        var root = JsonNode.Parse(headerText)!.AsObject();
        var names = root.Select(p => p.Key).Where(k => k != "__metadata__").ToList();
        var name = r.One(names);
        var t = root[name]!.AsObject();
        var offsets = t["data_offsets"]!.AsArray();
        long a = offsets[0]!.GetValue<long>(), b = offsets[1]!.GetValue<long>();
        switch (r.Next(9))
        {
            case 0: t["dtype"] = r.Pick<JsonNode?>("F16", "BF16", "I64", "f32", "", null, 4); break;
            case 1: t["shape"] = JsonNode.Parse(r.Pick("null", "[]", "[-1]", "[0]", "[1e3]", "[\"4\"]", "[2147483648, 2]", "[1,1,1,1,1,1,1,1,1]", "{}")); break;
            case 2: t.Remove(r.Pick("dtype", "shape", "data_offsets")); break;
            case 3: t["data_offsets"] = new JsonArray(b, a); break; // reversed
            case 4: t["data_offsets"] = new JsonArray(a - 8, b - 8); break; // overlapping the previous tensor (or into the header)
            case 5: t["data_offsets"] = JsonNode.Parse(r.Pick($"[\"{a}\", \"{b}\"]", $"[{a}.5, {b}]", $"[{a}]", $"[{a}, {b}, {b}]", "[-8, 0]", $"[{a}, 9223372036854775807]", "null", $"[{a}, {b + 4}]")); break;
            case 6: root.Remove(name); break; // a tensor missing
            case 7: root[name + ".extra"] = t.DeepClone(); break; // an extra tensor sharing the bytes
            default: root["__metadata__"]!.AsObject()["note"] = JsonNode.Parse(r.Pick("1", "null", "[]", "{}", "\"ok\"")); break;
        }
        return root.ToJsonString();
    }

    private static string MutateOffsetsAll(string headerText, Rand r)
    {
        var root = JsonNode.Parse(headerText)!.AsObject();
        var shift = r.Pick(0L, -16L, 4L);
        foreach (var (k, v) in root.ToList())
        {
            if (k == "__metadata__" || v is not JsonObject t) continue;
            var o = t["data_offsets"]!.AsArray();
            long a = o[0]!.GetValue<long>(), b = o[1]!.GetValue<long>();
            t["data_offsets"] = shift == 0 ? new JsonArray(0L, b - a) : new JsonArray(a + shift, b + shift);
        }
        return root.ToJsonString();
    }

    private static readonly string[] MetaValues =
        ["", "-1", "0", "abc", "1e99", "2147483648", "18446744073709551616", "[]", "{}", "null", "NaN", "[1, \"x\"]", "[{\"step\": 1}]", "char:", "char:ab", "gpt2", "{\"channels\": 0}", "wafer-checkpoint-0"];

    private static string MutateMetadata(string headerText, Rand r)
    {
        var root = JsonNode.Parse(headerText)!.AsObject();
        var meta = root["__metadata__"]!.AsObject();
        var key = r.One(meta.Select(p => p.Key).ToList());
        switch (r.Next(6))
        {
            case 0: meta.Remove(key); break;
            case 1: meta[key] = JsonNode.Parse(r.Pick("1", "null", "true", "[\"a\"]", "{}", "1.5")); break; // not a string
            case 2 when key == "model": meta[key] = JsonMutator.MutateTree(meta[key]!.GetValue<string>(), r); break;
            case 3 when key is "stepLosses" or "evals" or "referenceStepLosses": meta[key] = JsonMutator.MutateTree(meta[key]!.GetValue<string>(), r); break;
            case 4 when key == "tokenizer": meta[key] = r.Pick("char:", "char:a", "gpt2", "char:" + new string('x', 3), "bpe", ""); break;
            default: meta[key] = r.One(MetaValues); break;
        }
        if (r.Chance(0.1)) root["__metadata__"] = JsonNode.Parse(r.Pick("null", "[]", "\"x\"", "1"));
        return root.ToJsonString();
    }
}

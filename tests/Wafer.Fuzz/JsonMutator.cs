// Bad JSON files from a valid one: a value of another type or an extreme number at any path, a key removed, added or
// duplicated, the text truncated, not JSON at all, invalid UTF-8, nesting past any parser's depth.
using System.Text;
using System.Text.Json.Nodes;

namespace Wafer.Fuzz;

public static class JsonMutator
{
    private static readonly string[] Evil =
        ["null", "\"\"", "\"abc\"", "-1", "0", "1", "1e300", "-1e300", "2147483648", "9.3e18", "1.5", "true", "[]", "{}", "[1,2]", "65536", "100000000",
         "\"NaN\"", "\"Infinity\"", "-2147483649", "4294967296", "1e-320", $"\"{new string('x', 5000)}\""];

    public static byte[] Mutate(string json, Rand r)
    {
        switch (r.Next(12))
        {
            case 0: return Encoding.UTF8.GetBytes(json[..r.Next(json.Length)]);
            case 1: return Encoding.UTF8.GetBytes(r.Pick("", "null", "[]", "42", "\"s\"", "{", "}", "{\"a\":}", "\u0000", "{}{}"));
            case 2:
            {
                var b = Encoding.UTF8.GetBytes(json);
                var at = r.Next(b.Length);
                return [.. b[..at], 0xFF, 0xFE, 0xC3, .. b[at..]];
            }
            case 3: return Encoding.UTF8.GetBytes(new string('[', 5000) + new string(']', 5000));
            case 4: // a key twice, textually
            {
                var node = JsonNode.Parse(json) as JsonObject;
                if (node is null || node.Count == 0) goto default;
                var (key, value) = node.ElementAt(r.Next(node.Count));
                var other = r.Chance(0.5) ? value?.ToJsonString() ?? "null" : r.Pick(Evil);
                return Encoding.UTF8.GetBytes("{" + $"\"{key}\": {other}, " + json.TrimStart()[1..]);
            }
            default: return Encoding.UTF8.GetBytes(MutateTree(json, r));
        }
    }

    /// <summary>One structural change at a random path of the tree (several, sometimes).</summary>
    public static string MutateTree(string json, Rand r, int? changes = null)
    {
        var root = JsonNode.Parse(json)!;
        var n = changes ?? (r.Chance(0.8) ? 1 : r.Next(2, 5));
        for (var i = 0; i < n; i++) MutateOnce(root, r);
        return root.ToJsonString();
    }

    private static void MutateOnce(JsonNode root, Rand r)
    {
        var nodes = new List<JsonNode>();
        Collect(root, nodes);
        var target = r.One(nodes);
        var parent = target.Parent;
        switch (r.Next(5))
        {
            case 0 when parent is JsonObject po: // remove the key
                po.Remove(target.GetPropertyName());
                return;
            case 1 when target is JsonObject o: // an unknown key
                o[r.Pick("extra", "Channels", "__proto__", "", "name ")] = JsonNode.Parse(r.Pick(Evil));
                return;
            case 2 when target is JsonValue v && v.TryGetValue<double>(out var d): // scale a number
                Replace(target, JsonValue.Create(d * r.Pick(-1.0, 0.0, 1e3, 1e6, 1e12, 0.5, 1e-9))!);
                return;
            default:
                if (parent is null) return;
                Replace(target, JsonNode.Parse(r.Pick(Evil)));
                return;
        }
    }

    private static void Replace(JsonNode target, JsonNode? with)
    {
        switch (target.Parent)
        {
            case JsonObject o: o[target.GetPropertyName()] = with; break;
            case JsonArray a: a[target.GetElementIndex()] = with; break;
        }
    }

    private static void Collect(JsonNode? node, List<JsonNode> into)
    {
        if (node is null) return;
        into.Add(node);
        if (node is JsonObject o) foreach (var (_, v) in o) Collect(v, into);
        if (node is JsonArray a) foreach (var v in a) Collect(v, into);
    }
}

// Text <-> token ids. Two implementations: characters (nanoGPT's shakespeare_char) and GPT-2 byte-pair encoding.
using Wafer.Core;
using Microsoft.ML.Tokenizers;

namespace Wafer.Gpt.Data;

/// <summary>Contract: Encode maps text to ids in [0, VocabSize); Decode(Encode(s)) == s for text the tokenizer covers.
/// Describe() is what a checkpoint stores to rebuild the same tokenizer.</summary>
public interface ITokenizer
{
    int VocabSize { get; }
    int[] Encode(string text);
    string Decode(IEnumerable<int> ids);
    string Describe();
}

/// <summary>One id per distinct character of the training text, in ordinal order (nanoGPT's prepare.py).</summary>
public sealed class CharTokenizer : ITokenizer
{
    public const string Prefix = "char:";
    private readonly string _chars;
    private readonly Dictionary<char, int> _ids;

    public CharTokenizer(string alphabet)
    {
        _chars = new string(alphabet.Distinct().Order().ToArray());
        _ids = _chars.Select((ch, i) => (ch, i)).ToDictionary(p => p.ch, p => p.i);
    }

    public static CharTokenizer FromText(string text) => new(text);

    public int VocabSize => _chars.Length;

    public int[] Encode(string text)
    {
        var ids = new int[text.Length];
        for (var i = 0; i < text.Length; i++)
            ids[i] = _ids.TryGetValue(text[i], out var id) ? id : throw new WaferInputException($"character {Printable(text[i])} at offset {i} is not in the vocabulary of {VocabSize} characters");
        return ids;
    }

    /// <summary>Encodes, dropping characters outside the vocabulary (for prompts).</summary>
    public int[] EncodeKnown(string text) => text.Where(_ids.ContainsKey).Select(ch => _ids[ch]).ToArray();

    public string Decode(IEnumerable<int> ids) => new(ids.Select(i => _chars[i]).ToArray());
    public string Describe() => Prefix + _chars;

    private static string Printable(char ch) => char.IsControl(ch) ? $"U+{(int)ch:X4}" : $"'{ch}'";
}

/// <summary>GPT-2's byte-level BPE (50,257 tokens) from Microsoft.ML.Tokenizers with its bundled gpt2 data.</summary>
public sealed class Gpt2BpeTokenizer : ITokenizer
{
    public const string Name = "gpt2";
    private readonly TiktokenTokenizer _tok = TiktokenTokenizer.CreateForModel("gpt2");

    public int VocabSize => 50257;
    public int[] Encode(string text) => _tok.EncodeToIds(text).ToArray();
    public string Decode(IEnumerable<int> ids) => _tok.Decode(ids) ?? "";
    public string Describe() => Name;
}

public static class TokenizerFactory
{
    /// <summary>Rebuilds a tokenizer from Describe()'s text (stored in checkpoints).</summary>
    public static ITokenizer FromDescription(string description) =>
        description == Gpt2BpeTokenizer.Name ? new Gpt2BpeTokenizer()
        : description.StartsWith(CharTokenizer.Prefix, StringComparison.Ordinal) ? new CharTokenizer(description[CharTokenizer.Prefix.Length..])
        : throw new WaferInputException($"unknown tokenizer '{description}' (expected 'gpt2' or 'char:<alphabet>')");
}

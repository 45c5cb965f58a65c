// A tokenized text split 90/10 by position into train and validation (nanoGPT's prepare.py), with checks that say
// what is wrong with a data file in one line.
using Wafer.Core;
using System.Text;

namespace Wafer.Gpt.Data;

public sealed class TextCorpus
{
    public string Source { get; }
    public int[] Train { get; }
    public int[] Validation { get; }
    public ITokenizer Tokenizer { get; }

    private TextCorpus(string source, int[] tokens, ITokenizer tokenizer)
    {
        Source = source;
        Tokenizer = tokenizer;
        var split = (int)(tokens.Length * 0.9);
        Train = tokens[..split];
        Validation = tokens[split..];
    }

    /// <summary>The corpus shipped inside the binary (public-domain Shakespeare, see Data/README.md).</summary>
    public static string DefaultText()
    {
        using var stream = typeof(TextCorpus).Assembly.GetManifestResourceStream("Wafer.Gpt.default-corpus.txt")
            ?? throw new InvalidOperationException("the default corpus is missing from the assembly");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The largest data file read: the text and its tokens live in memory (1 GiB of text is ~1e9 tokens,
    /// 4 GB of token ids).</summary>
    public const long MaxTextBytes = 1L << 30;

    /// <summary>Reads a UTF-8 text file; a missing, empty, binary or oversized file is one line naming the path.</summary>
    public static string ReadText(string path)
    {
        var bytes = InputFile.ReadAllBytes(path, MaxTextBytes, "data file");
        if (bytes.Length == 0) throw new WaferInputException($"data file {path} is empty");
        var nul = Array.IndexOf(bytes, (byte)0);
        if (nul >= 0) throw new WaferInputException($"data file {path} is binary, not text (NUL byte at offset {nul})");
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
        catch (DecoderFallbackException e) { throw new WaferInputException($"data file {path} is not UTF-8 text (invalid bytes near offset {e.Index})"); }
    }

    /// <summary>Tokenizes text and splits it; each split must hold at least one sequence of seqLen + 1 tokens.</summary>
    public static TextCorpus Create(string source, string text, ITokenizer tokenizer, int seqLen)
    {
        var tokens = tokenizer.Encode(text);
        var corpus = new TextCorpus(source, tokens, tokenizer);
        if (corpus.Validation.Length < seqLen + 1)
            throw new WaferInputException($"data {source} is too short for sequence length {seqLen}: {tokens.Length} tokens give a validation split of {corpus.Validation.Length}, which needs at least {seqLen + 1} (the split is 90/10)");
        return corpus;
    }
}

/// <summary>Random windows of a token array (nanoGPT's get_batch): x = tokens[i .. i+T), y = tokens[i+1 .. i+T].
/// Its only state is one ulong, which checkpoints save so a resumed run draws the same batches.</summary>
public sealed class BatchSampler(int[] tokens, int batch, int seqLen, ulong state)
{
    private SplitMix64 _rng = new(state);
    public ulong State => _rng.State;

    public (int[] Inputs, int[] Targets) Next()
    {
        var x = new int[batch * seqLen];
        var y = new int[batch * seqLen];
        for (var b = 0; b < batch; b++)
        {
            var start = _rng.NextInt(tokens.Length - seqLen);
            Array.Copy(tokens, start, x, b * seqLen, seqLen);
            Array.Copy(tokens, start + 1, y, b * seqLen, seqLen);
        }
        return (x, y);
    }
}

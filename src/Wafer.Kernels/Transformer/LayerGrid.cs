// The geometry of the transformer layer program (docs/transformer.md): a program rectangle of Cc columns x (R + 1) rows.
// Row 0 is the wafer's edge, where the MemoryX link enters (one off-wafer port per column: weights in, gradients out);
// rows 1 .. R are workers holding activations in the weight-streaming block layout (docs/design.md §2.3): worker row r
// (PE row r + 1) holds tokens r n .. r n + n - 1, column x holds features x k .. x k + k - 1 of a C-wide tensor (and
// x kf .. of an F-wide one), feature-major ([f][t]). Column x also holds features x k .. of each of q, k and v, so a
// head of hs features lies in one column (k a multiple of hs: k / hs heads per column) or spans a group of hs / k
// columns (hs a multiple of k). A sequence of T tokens spans T / n rows (a sequence group) when n < T, or a row holds
// n / T whole sequences when n >= T.
using Wafer.Core;
using Wafer.Fabric;

namespace Wafer.Kernels.Transformer;

/// <summary>The model dimensions the layer program depends on: C channels, F ffn channels, NH heads, T tokens per sequence,
/// and the block's kind: GPT-2/3 (sequential residual, learned positions) by default; GPT-J and NeoX blocks have a
/// parallel residual (out = x + attn(ln1 x) + mlp(ln x), ln = ln1 when the norm is shared) and rotary positions on the
/// first RotaryDims features of each head's q and k (pairs (2i, 2i + 1) interleaved, else (i, i + D/2),
/// which OutputMap.Qkv reorders to adjacent positions).</summary>
public sealed record LayerShape(int Channels, int FfnChannels, int Heads, int SeqLen)
{
    public int HeadSize => Channels / Heads;
    public bool ParallelResidual { get; init; }
    public bool SharedNorm { get; init; }
    public int RotaryDims { get; init; }
    public bool RotaryInterleaved { get; init; }

    /// <summary>A GPT config's block at sequence length T: GPT-2/3, GPT-J (parallel, shared norm, interleaved rotary)
    /// or NeoX (parallel, two norms, rotate_half).</summary>
    public static LayerShape Of(GptConfig cfg, int seqLen) => new(cfg.Channels, cfg.FfnChannels, cfg.Heads, seqLen)
    {
        ParallelResidual = cfg.ParallelResidual,
        SharedNorm = cfg.SharedBlockNorm,
        RotaryDims = cfg.Positions == PositionEncoding.Rotary ? cfg.RotaryDims : 0,
        RotaryInterleaved = cfg.RotaryInterleaved,
    };
}

/// <summary>Cc columns, R worker rows, n tokens per row, and the model shape. Validate before use.</summary>
public sealed record LayerGrid(int Columns, int Rows, int TokensPerRow, LayerShape Shape)
{
    /// <summary>Features per column of a C-wide tensor (k) and of an F-wide one (kf).</summary>
    public int K => Shape.Channels / Columns;
    public int Kf => Shape.FfnChannels / Columns;
    public int N => TokensPerRow;
    public int Tokens => Rows * TokensPerRow;
    public int HeadSize => Shape.HeadSize;
    /// <summary>Features of one head a column holds (a head slice) and how many slices it holds.</summary>
    public int SliceWidth => Math.Min(K, HeadSize);
    public int Slices => K / SliceWidth;
    /// <summary>Columns that share one head (1 when a column holds whole heads).</summary>
    public int GroupColumns => Math.Max(1, HeadSize / K);
    /// <summary>Worker rows a sequence spans (1 when a row holds whole sequences).</summary>
    public int GroupRows => TokensPerRow < Shape.SeqLen ? Shape.SeqLen / TokensPerRow : 1;
    /// <summary>Most keys a query row sees: a whole sequence, or the row's own tokens when it holds whole sequences.</summary>
    public int KeysMax => TokensPerRow < Shape.SeqLen ? Shape.SeqLen : TokensPerRow;
    /// <summary>Fabric rows: the edge row plus the workers.</summary>
    public int FabricRows => Rows + 1;

    /// <summary>First worker row of row r's sequence group, and the keys its queries see (rows r0 .. r).</summary>
    public int GroupStart(int r) => r - r % GroupRows;
    public int VisibleKeys(int r) => (r - GroupStart(r) + 1) * TokensPerRow;

    public IReadOnlyList<string> Validate()
    {
        var e = new List<string>();
        var (c, f, nh, t) = (Shape.Channels, Shape.FfnChannels, Shape.Heads, Shape.SeqLen);
        if (Columns < 1 || Rows < 1 || TokensPerRow < 1) e.Add($"the region needs at least 1 column, 1 worker row and 1 token per row (has {Columns} columns, {Rows} rows, n {TokensPerRow})");
        if (c < 1 || f < 1 || nh < 1 || t < 1) e.Add("channels, ffn channels, heads and sequence length must be >= 1");
        if (e.Count > 0) return e;
        if (c % Columns != 0) e.Add($"{Columns} columns do not divide the {c} channels");
        if (f % Columns != 0) e.Add($"{Columns} columns do not divide the {f} ffn channels");
        if (c % nh != 0) e.Add($"{nh} heads do not divide the {c} channels");
        if (e.Count == 0 && K % HeadSize != 0 && HeadSize % K != 0)
            e.Add($"{K} features per column and the head size {HeadSize}: one must be a multiple of the other");
        if (e.Count == 0 && GroupColumns > 1 && Columns % GroupColumns != 0) e.Add($"a head spans {GroupColumns} columns, which do not divide the {Columns} columns");
        if (e.Count == 0 && Shape.RotaryDims > 0)
        {
            var d = Shape.RotaryDims;
            if (d % 2 != 0 || d > HeadSize) e.Add($"rotary dims {d} must be even and at most the head size {HeadSize}");
            else if (K % 2 != 0)
                e.Add($"{K} features per column would split rotary pairs across columns: use an even number of features per column ({Shape.Channels} channels over the columns)");
        }
        if (TokensPerRow < t ? t % TokensPerRow != 0 : TokensPerRow % t != 0)
            e.Add($"{TokensPerRow} tokens per row and sequences of {t}: one must be a multiple of the other");
        else if (Rows % GroupRows != 0) e.Add($"a sequence spans {GroupRows} rows, which do not divide the {Rows} worker rows");
        return e;
    }

    /// <summary>The rotary pairs column x holds: local rows (f0, f1) of q's (and k's) block and the pair's frequency
    /// index i (angle t 10000^(-2i/D) at position t). Pairs sit at head positions (2i, 2i + 1): GPT-J's own order, and
    /// NeoX's halves after OutputMap.Qkv's reorder.</summary>
    public IReadOnlyList<(int F0, int F1, int Frequency)> RotaryPairs(int x)
    {
        var pairs = new List<(int, int, int)>();
        int d = Shape.RotaryDims, hs = HeadSize;
        if (d == 0) return pairs;
        for (var f = x * K; f < (x + 1) * K; f++)
        {
            var within = f % hs;
            if (within < d && within % 2 == 0) pairs.Add((f - x * K, f + 1 - x * K, within / 2));
        }
        return pairs;
    }

    /// <summary>The most rotary pairs any column holds (the tables' rows in LayerMemory).</summary>
    public int RotaryPairsMax => Shape.RotaryDims == 0 ? 0 : Enumerable.Range(0, Columns).Max(x => RotaryPairs(x).Count);

    /// <summary>Throws WaferInputException naming every problem.</summary>
    public void Check()
    {
        var e = Validate();
        if (e.Count > 0) throw new WaferInputException($"layer region {Rows} rows x {Columns} columns: {string.Join("; ", e)}");
    }
}

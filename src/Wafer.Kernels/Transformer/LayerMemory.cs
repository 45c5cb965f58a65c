// The SRAM plan of a worker PE in the layer program: every buffer a phase reads or writes, at the same address on every
// worker (one arena symbol). The plan keeps each layer's input for the backward pass and recomputes the layer's other
// activations just before its backward (activation checkpointing at block boundaries; the estimate's "recompute" plan,
// docs/model.md §2), so a PE holds L + 1 block inputs, one layer's activations, its gradients and attention's working set.
// Buffers that feed a weight gradient carry one more row of ones after their features: the bias gradient is the sum of
// the output gradient over tokens, which the same FMACs give as a dot product with that row.
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Transformer;

/// <summary>A region of the arena: fp32 values at a byte address, feature-major rows of n tokens where it holds a block.</summary>
public readonly record struct Buf(int Address, int Floats)
{
    public int End => Address + 4 * Floats;
    /// <summary>Row f (n values) of a feature-major block.</summary>
    public Dsd Row(int f, int n) => Dsd.Mem1D(Address + 4 * f * n, n);
    public Dsd All => Dsd.Mem1D(Address, Floats);
    public int At(int i) => Address + 4 * i;
}

public sealed class LayerMemory
{
    private int _end;

    /// <summary>Block inputs of layers 0 .. L - 1 and the last block's output (index L).</summary>
    public Buf[] Inputs { get; }
    public readonly Buf Ln1, Qkv, Att, R2, Ln2, Fch, Gelu;
    /// <summary>LayerNorm statistics (n each) and attention's log-sum-exp per head slice (slices x n).</summary>
    public readonly Buf Mean1, Rstd1, Mean2, Rstd2, Lse;
    /// <summary>Gradients: of the block output, of r2, of a LayerNorm output (ln2, then ln1), of the attention output,
    /// of qkv, and of the MLP's hidden layer (GELU output, then fc output, in place).</summary>
    public readonly Buf DOut, DR2, DLn, DAtt, DQkv, DHidden;
    /// <summary>Attention, one key block (n keys) at a time: its K and V ([f][key]), their gradients' partial sums, the
    /// block's scores ([key][query], then probabilities) and their gradient, the causal mask of the own block (n x n),
    /// and per head slice the running max, sum and (backward) row sums D (slices x n each).</summary>
    public readonly Buf KeyBlock, ValueBlock, DKeyBlock, DValueBlock, Scores, DScores, Mask, RunMax, RunSum, RowSums;
    /// <summary>Scratch: LayerNorm's sums and totals (2n each), normalised input and scaled gradient (k n each), a
    /// product's weights (widest input + bias), partial sums (n), a received gradient row (n), a weight-gradient
    /// partial (widest input + bias), LayerNorm parameters (2k), a temporary block (max(k, kf) n), loop counters.</summary>
    public readonly Buf Sums, Totals, Norm, Scaled, Wb, Partial, Received, WeightPartial, Params, Temp, Counters;

    public int Bytes => _end;

    public LayerMemory(LayerGrid g, int layers)
    {
        int k = g.K, kf = g.Kf, n = g.N;
        var widest = Math.Max(3 * k, Math.Max(kf, k));
        Inputs = Enumerable.Range(0, layers + 1).Select(_ => Alloc(k * n)).ToArray();
        Ln1 = Alloc((k + 1) * n); Qkv = Alloc(3 * k * n); Att = Alloc((k + 1) * n); R2 = Alloc(k * n);
        Ln2 = Alloc((k + 1) * n); Fch = Alloc(kf * n); Gelu = Alloc((kf + 1) * n);
        Mean1 = Alloc(n); Rstd1 = Alloc(n); Mean2 = Alloc(n); Rstd2 = Alloc(n); Lse = Alloc(g.Slices * n);
        DOut = Alloc(k * n); DR2 = Alloc(k * n); DLn = Alloc(k * n); DAtt = Alloc(k * n); DQkv = Alloc(3 * k * n); DHidden = Alloc(kf * n);
        KeyBlock = Alloc(k * n); ValueBlock = Alloc(k * n); DKeyBlock = Alloc(k * n); DValueBlock = Alloc(k * n);
        Scores = Alloc(n * n); DScores = Alloc(n * n); Mask = Alloc(n * n);
        RunMax = Alloc(g.Slices * n); RunSum = Alloc(g.Slices * n); RowSums = Alloc(g.Slices * n);
        Sums = Alloc(2 * n); Totals = Alloc(2 * n); Norm = Alloc(k * n); Scaled = Alloc(k * n);
        Wb = Alloc(Math.Max(widest, k) + 1); Received = Alloc(n); WeightPartial = Alloc(Math.Max(kf, 2 * k) + 1);
        Params = Alloc(2 * k); Temp = Alloc(Math.Max(4, Math.Max(k, kf)) * n); Counters = Alloc(8);
        // Rotary positions: per pair the column holds, cos then sin of its angle at each token's position (n each).
        Rotary = Alloc(g.RotaryPairsMax * 2 * n);
        // The fp16 mapping's operands: a product's input block in fp16 on a 16-byte boundary, its weights, a row of fp16
        // ones (the bias's multiplier); the partial sums 8 bytes past a 16-byte boundary, 4 banks from every fp16 row
        // when n is a multiple of 8, so @fmachs runs at full width (the bank rule, docs/architecture.md §3).
        AlignTo(0);
        Half16 = Alloc((widest * n + 1) / 2);
        Wb16 = Alloc((widest + 2) / 2);
        Ones16 = Alloc((n + 1) / 2);
        AlignTo(8);
        Partial = Alloc(n);
    }

    /// <summary>Rotary tables: for pair p, cos at row 2p and sin at row 2p + 1 (n tokens each).</summary>
    public readonly Buf Rotary;

    /// <summary>fp16 buffers (sizes in floats: two halves each): a product's input, its weights (and bias), ones.</summary>
    public readonly Buf Half16, Wb16, Ones16;

    /// <summary>Moves the end of the arena to the next address that is `residue` bytes past a 16-byte boundary.</summary>
    private void AlignTo(int residue) => _end += ((residue - _end % 16) % 16 + 16) % 16;

    private Buf Alloc(int floats)
    {
        var b = new Buf(_end, floats);
        _end = b.End;
        return b;
    }

    /// <summary>Refuses a plan that does not fit a PE's usable SRAM, with the figure it needs.</summary>
    public void Check(LayerGrid g, int usableBytes, int layers)
    {
        if (Bytes <= usableBytes) return;
        throw new WaferInputException(
            $"layer region {g.Rows} rows x {g.Columns} columns (n {g.N} tokens and k {g.K} features per PE, {layers} layers): a worker PE needs {Bytes:N0} bytes of SRAM, the wafer has {usableBytes:N0}; use more columns or rows (fewer features or tokens per PE)");
    }
}

// Closed-form cycle counts of the layer program's phases (docs/transformer.md §4), from the op costs of
// docs/architecture.md §3 (SU op start-up, TS task start, L hop, R ramp, SIMD widths) and the fabric's stream rates.
// The layer's cycles are the sum of its phases': phases are separated by the fabric going quiet.
using Wafer.Fabric.Config;

namespace Wafer.Kernels.Transformer;

public static class LayerCycleModel
{
    /// <summary>Cycles of one block's forward on the region (pace: the MemoryX port's cycles per value).</summary>
    public static long Forward(WaferConfig w, LayerGrid g, double pace, bool fp16 = false) => ForwardPhases(w, g, pace, full: true, fp16).Sum(p => p.Cycles);

    /// <summary>Cycles of one block's backward, its recomputed forward included.</summary>
    public static long Backward(WaferConfig w, LayerGrid g, double pace, bool fp16 = false) => BackwardPhases(w, g, pace, fp16).Sum(p => p.Cycles);

    /// <summary>fp16: the products in the production mapping (ProductPhase's fp16).</summary>
    public static IEnumerable<(string Phase, long Cycles)> ForwardPhases(WaferConfig w, LayerGrid g, double pace, bool full, bool fp16 = false)
    {
        int c = g.Shape.Channels, f = g.Shape.FfnChannels, k = g.K, kf = g.Kf;
        var s = g.Shape;
        var attentionBias = !s.ParallelResidual || !s.SharedNorm; // GPT-J (parallel, one norm) has no attention biases
        yield return ("ln1", LayerNormForward(w, g));
        yield return ("qkv", Product(w, g, k, 3 * c, bias: attentionBias, residual: false, pace, fp16));
        if (s.RotaryDims > 0) yield return ("rotary", Rotary(w, g));
        yield return ("attention", Attention(w, g, backward: false));
        yield return ("attproj", Product(w, g, k, c, bias: attentionBias, residual: true, pace, fp16));
        if (!(s.ParallelResidual && s.SharedNorm)) yield return ("ln2", LayerNormForward(w, g));
        yield return ("fc", Product(w, g, k, f, bias: true, residual: false, pace, fp16));
        yield return ("gelu", GeluForward(w, g));
        if (full) yield return ("fcproj", Product(w, g, kf, c, bias: true, residual: true, pace, fp16));
    }

    public static IEnumerable<(string Phase, long Cycles)> BackwardPhases(WaferConfig w, LayerGrid g, double pace, bool fp16 = false)
    {
        int c = g.Shape.Channels, f = g.Shape.FfnChannels, k = g.K, kf = g.Kf;
        var s = g.Shape;
        var attentionBias = !s.ParallelResidual || !s.SharedNorm;
        foreach (var p in ForwardPhases(w, g, pace, full: false, fp16)) yield return p;
        yield return ("d fcproj.w", WeightGradient(w, g, kf, c, pace));
        yield return ("d gelu", Product(w, g, k, f, bias: false, residual: false, pace, fp16));
        yield return ("d fc", GeluBackward(w, g));
        yield return ("d fc.w", WeightGradient(w, g, k, f, pace));
        yield return ("d ln2", Product(w, g, kf, c, bias: false, residual: false, pace, fp16));
        yield return ("d r2 = d out", Copy(w, g));
        if (!s.ParallelResidual) yield return ("d r2 += ln2'", LayerNormBackward(w, g));
        else if (!s.SharedNorm) yield return ("d x += ln2'", LayerNormBackward(w, g));
        yield return ("d attproj.w", WeightGradient(w, g, k, c, pace, attentionBias));
        yield return ("d att", Product(w, g, k, c, bias: false, residual: false, pace, fp16));
        yield return ("d qkv", Attention(w, g, backward: true));
        if (s.RotaryDims > 0) yield return ("d rotary", Rotary(w, g));
        yield return ("d qkv.w", WeightGradient(w, g, k, 3 * c, pace, attentionBias));
        yield return ("d ln1", Product(w, g, 3 * k, c, bias: false, residual: false, pace, fp16));
        if (s.ParallelResidual && s.SharedNorm) yield return ("d ln1 += mlp's", Copy(w, g, add: true));
        yield return ("d x += ln1'", LayerNormBackward(w, g));
        yield return ("d out = d x", Copy(w, g));
    }

    /// <summary>The host steps of a pass as charged: the embedding's output into the wafer (and, training, its gradient
    /// out) over the MemoryX link, and the head (C -> Vp) as a product of the region (forward; backward: dX and dW).</summary>
    public static long HostSteps(WaferConfig w, LayerGrid g, int paddedVocab, double pace, bool training)
    {
        var link = (long)Math.Ceiling(Math.Max(pace, 1) * g.K * g.Tokens);
        var head = Product(w, g, g.K, paddedVocab, bias: false, residual: false, pace);
        return training ? 2 * link + 2 * head + WeightGradient(w, g, g.K, paddedVocab, pace) : link + head;
    }

    // ---------------------------------------------------------------- phases (first principles; see docs/transformer.md §4)

    public static long Product(WaferConfig w, LayerGrid g, int kin, int outputs, bool bias, bool residual, double pace, bool fp16 = false)
    {
        // Beyond 16 columns the timeline is linear in the columns: every owner block between the two end columns costs
        // the same (ProductTiming gives T(Cc) = T(8) + (Cc - 8) (T(16) - T(8)) / 8 exactly for Cc >= 8), so a
        // wafer-wide product is modelled from 8 and 16 columns with the same outputs and features per column.
        const int wide = 16, narrow = 8;
        if (g.Columns > wide)
        {
            var perColumn = (double)outputs / g.Columns;
            LayerGrid Shrunk(int cc) => g with { Columns = cc, Shape = g.Shape with { Channels = g.K * cc, FfnChannels = g.Kf * cc } };
            var t8 = Product(w, Shrunk(narrow), kin, (int)Math.Ceiling(perColumn * narrow), bias, residual, pace, fp16);
            var t16 = Product(w, Shrunk(wide), kin, (int)Math.Ceiling(perColumn * wide), bias, residual, pace, fp16);
            return t8 + (long)Math.Round((g.Columns - narrow) * (t16 - t8) / (double)(wide - narrow));
        }
        // Outputs in blocks of ceil(D_out / Cc) per column (a width that Cc does not divide, the head's vocabulary, leaves
        // the last columns fewer).
        var rows = (outputs + g.Columns - 1) / g.Columns;
        var owner = Enumerable.Range(0, outputs).Select(o => o / rows).ToArray();
        long su = w.DsdOpStartupCycles, n = g.N;
        // The owner's add of its partial to the two chains' sum, and the residual add: full fp32-add width when the
        // operands sit 4 banks apart, half otherwise (both vary with the output row; half width is the common case).
        var half = su + n;
        // The stream's pace: fp16 values take half a fp32 value's bytes on the link.
        return ProductTiming.Cycles(w, g, kin, owner, bias, residual, half, half, fp16, fp16 ? pace / 2 : pace);
    }

    /// <summary>The weight-gradient phase: output after output, the owner of dY[o] is the row's slowest PE (it issues
    /// the multicasts, takes back its own copies through its one ramp and sums one more row, the bias's), and every
    /// other PE waits for its data; the column chains up to the edge pipeline across outputs (their skew, L + 2R per
    /// row, is paid once).</summary>
    /// <summary>A product over the outputs listed (owner[i] of each, in stream order), e.g. a slice of a product.</summary>
    public static long ProductSlice(WaferConfig w, LayerGrid g, int kin, int[] owner, bool bias, bool residual, double pace = 0, bool fp16 = false)
    {
        var half = w.DsdOpStartupCycles + (long)g.N;
        return ProductTiming.Cycles(w, g, kin, owner, bias, residual, half, half, fp16, fp16 ? pace / 2 : pace);
    }

    public static long WeightGradient(WaferConfig w, LayerGrid g, int kin, int outputs, double pace, bool bias = true)
    {
        long su = w.DsdOpStartupCycles, n = g.N, r = w.RampLatencyCycles;
        int cc = g.Columns, rows = outputs / cc;
        long total = w.TaskStartCycles + 1;
        for (var x = 0; x < cc; x++)
        {
            var casts = cc == 1 ? 0 : x == 0 || x == cc - 1 ? 1 : 2;
            var sums = kin + (bias ? 1 : 0);
            // The loopbacks share the owner's ramp: casts x n wavelets at one a cycle, R to become visible on each side.
            var receive = casts == 0 ? 0 : su + casts * n + w.ExecuteLatencyCycles + 2 * r;
            var perOutput = 1 + casts + receive + n * (su + sums) + su + sums;
            total += rows * perOutput;
        }
        return total + g.Rows * StreamTiming.Path(w);
    }

    /// <summary>RowCollectives.RowAllReduce of m values: the chain east into the last column (L + 2R + E a hop), then its
    /// multicast west (L a hop, E + 2R at the ends), each PE taking the m values one a cycle.</summary>
    private static long RowAllReduce(WaferConfig w, LayerGrid g, long m)
    {
        long su = w.DsdOpStartupCycles;
        if (g.Columns == 1) return su + (m + w.SimdWidthFp32Add - 1) / w.SimdWidthFp32Add;
        long hops = g.Columns - 1;
        return su + hops * StreamTiming.Path(w) + m + 1 + su + StreamTiming.Path(w, hops) + m;
    }

    private static long Op(WaferConfig w, long len, int width) => w.DsdOpStartupCycles + (len + width - 1) / width;

    /// <summary>LayerNormForward's ops in order: gamma and beta off the stream, the sum, its allreduce, the mean, the
    /// deviations and their squares, the second allreduce, rstd in scalar code, and 3 ops per feature.</summary>
    public static long LayerNormForward(WaferConfig w, LayerGrid g)
    {
        long su = w.DsdOpStartupCycles, n = g.N, k = g.K;
        int add = w.SimdWidthFp32Add, mul = w.SimdWidthFp32Mul;
        var stream = su + 2 * k + StreamTiming.Path(w, g.Rows);
        var sum = Op(w, n, add) + (k - 1) * Op(w, n, 1);
        var dev = Op(w, n, mul) + k * Op(w, n, 1) + Op(w, n, mul) + (k - 1) * (Op(w, n, mul) + Op(w, n, 1));
        var normalise = 1 + n * Layers.ScalarMath.RsqrtCycles + k * (Op(w, n, mul) + Op(w, n, mul) + Op(w, n, add));
        return w.TaskStartCycles + stream + sum + RowAllReduce(w, g, n) + dev + RowAllReduce(w, g, n) + normalise;
    }

    /// <summary>LayerNormBackward's ops in order, its allreduce of 2n, and dgamma / dbeta up the column (L + 2R + E a row).</summary>
    public static long LayerNormBackward(WaferConfig w, LayerGrid g)
    {
        long su = w.DsdOpStartupCycles, n = g.N, k = g.K;
        int add = w.SimdWidthFp32Add, mul = w.SimdWidthFp32Mul;
        var stream = su + 2 * k + StreamTiming.Path(w, g.Rows);
        var norm = k * (Op(w, n, 1) + Op(w, n, mul) + Op(w, n, mul));
        var sums = Op(w, n, add) + Op(w, n, mul) + (k - 1) * (Op(w, n, 1) + Op(w, n, mul) + Op(w, n, 1));
        var dx = Op(w, 2 * n, mul) + k * (Op(w, n, 1) + Op(w, n, mul) + Op(w, n, 1) + Op(w, n, mul) + Op(w, n, 1));
        var dparams = k * Op(w, n, mul) + 2 * Op(w, k, 1) + (n - 1) * 2 * Op(w, k, 1);
        var column = su + 2 * k + g.Rows * StreamTiming.Path(w);
        return w.TaskStartCycles + stream + norm + sums + RowAllReduce(w, g, 2 * n) + dx + dparams + column;
    }

    /// <summary>GeluForward's ops: three multiplies, an add, a scale, tanh per value in scalar code, an add, two
    /// multiplies (fp32 multiplies one value a cycle, adds two; the add of two blocks at half width: LayerMemory puts
    /// the fc output and the GELU output in the same banks, the bank rule of docs/architecture.md §3).</summary>
    public static long GeluForward(WaferConfig w, LayerGrid g)
    {
        long len = (long)g.Kf * g.N;
        int add = w.SimdWidthFp32Add, mul = w.SimdWidthFp32Mul;
        return w.TaskStartCycles + 4 * Op(w, len, mul) + Op(w, len, Math.Max(1, add / 2)) + 1 + len * Layers.ScalarMath.TanhCycles + Op(w, len, add) + 2 * Op(w, len, mul);
    }

    /// <summary>GeluBackward's ops: per F row three multiplies, an add and a scale, then the slope in scalar code and a multiply.</summary>
    public static long GeluBackward(WaferConfig w, LayerGrid g)
    {
        long len = (long)g.Kf * g.N;
        int add = w.SimdWidthFp32Add, mul = w.SimdWidthFp32Mul;
        return w.TaskStartCycles + g.Kf * (4 * Op(w, g.N, mul) + Op(w, g.N, add)) + 1 + len * (Layers.ScalarMath.TanhCycles + Transformer.GeluBackward.GeluSlopeCycles) + Op(w, len, mul);
    }

    /// <summary>A copy (or, add, an add of two blocks: half width, the bank rule for blocks that collide).</summary>
    public static long Copy(WaferConfig w, LayerGrid g, bool add = false) =>
        w.TaskStartCycles + Op(w, (long)g.K * g.N, add ? Math.Max(1, w.SimdWidthFp32Add / 2) : w.SimdWidthFp32Add);

    /// <summary>RotaryPhase: per pair the column holds, for q and k, four multiplies and two adds over n tokens.</summary>
    public static long Rotary(WaferConfig w, LayerGrid g)
    {
        long n = g.N;
        var pairs = Enumerable.Range(0, g.Columns).Max(x => g.RotaryPairs(x).Count);
        return w.TaskStartCycles + pairs * 2L * (4 * Op(w, n, w.SimdWidthFp32Mul) + 2 * Op(w, n, 1));
    }

    /// <summary>Attention, for the last row of a sequence group (it works through the most key blocks, G = T / n, and
    /// each block reaches it as soon as it has finished the one before): per block, the K/V block off the multicast
    /// (2 k n values, one a cycle), then per head slice AttentionForward's (or Backward's) ops in order, each SU +
    /// ceil(len / width), the head-group allreduces (a chain east, then relayed west member by member) and the scalar
    /// exps; the backward adds D = dO . O once and, per block, dK and dV up the column.</summary>
    public static long Attention(WaferConfig w, LayerGrid g, bool backward)
    {
        long su = w.DsdOpStartupCycles, n = g.N, ws = g.SliceWidth, kn = (long)g.K * g.N, sn = g.Slices * n;
        long path = StreamTiming.Path(w);
        int add = w.SimdWidthFp32Add, mul = w.SimdWidthFp32Mul, max = w.SimdWidthConvert;
        long O(long len, int width) => su + (len + width - 1) / width;
        long AllReduce(long m) => g.GroupColumns == 1 ? 0 : (g.GroupColumns - 1) * (path + su) + m + (g.GroupColumns - 1) * (2 * su + m + path);
        var receive = g.GroupRows == 1 ? 2 * O(kn, add) : 1 + 2 * (su + kn) + path;
        var scores = n * ws * O(n, mul) + AllReduce(n * n) + O(n * n, mul) + O(n * n, 1);
        long perSlice, start, perBlockExtra, finish;
        if (!backward)
        {
            var softmax = O(n, add) + n * O(n, max) + n * O(n, 1) + O(n, 1) + O(n, add) + 1 + (n * n + n) * Layers.ScalarMath.ExpCycles
                          + O(n, mul) + n * O(n, 1);
            perSlice = scores + softmax + ws * (O(n, mul) + n * O(n, mul)) + 1;
            start = 2 * O(sn, add) + O(kn, add) + 1;
            perBlockExtra = 0;
            finish = 1 + sn * (AttentionForward.LogCycles + Layers.ScalarMath.ReciprocalCycles + 1) + g.K * O(n, mul);
        }
        else
        {
            var probabilities = n * O(n, 1) + 1 + n * n * Layers.ScalarMath.ExpCycles;
            var dp = n * ws * O(n, mul) + AllReduce(n * n) + n * (O(n, 1) + O(n, mul)) + O(n * n, mul);
            var grads = ws * (n * O(n, mul) + 2 * n * O(n, mul));
            perSlice = scores + probabilities + dp + grads + 1;
            start = g.Slices * (O(n, mul) + (ws - 1) * (O(n, mul) + O(n, 1))) + AllReduce(sn) + O(kn, add) + 1;
            perBlockExtra = 2 * (su + kn) + 1; // dK and dV up the column (or into dQKV on the own row)
            finish = 0;
        }
        return w.TaskStartCycles + start + g.GroupRows * (1 + receive + g.Slices * perSlice + perBlockExtra) + finish;
    }
}

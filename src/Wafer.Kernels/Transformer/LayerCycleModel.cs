// Closed-form cycle counts of the layer program's phases (docs/transformer.md §4), from the op costs of
// docs/architecture.md §3 (SU op start-up, TS task start, L hop, R ramp, SIMD widths) and the fabric's stream rates.
// The layer's cycles are the sum of its phases': phases are separated by the fabric going quiet.
using Wafer.Fabric.Config;

namespace Wafer.Kernels.Transformer;

public static class LayerCycleModel
{
    /// <summary>Cycles of one block's forward on the region (pace: the MemoryX port's cycles per value).</summary>
    public static long Forward(WaferConfig w, LayerGrid g, double pace) => ForwardPhases(w, g, pace, full: true).Sum(p => p.Cycles);

    /// <summary>Cycles of one block's backward, its recomputed forward included.</summary>
    public static long Backward(WaferConfig w, LayerGrid g, double pace) => BackwardPhases(w, g, pace).Sum(p => p.Cycles);

    public static IEnumerable<(string Phase, long Cycles)> ForwardPhases(WaferConfig w, LayerGrid g, double pace, bool full)
    {
        int c = g.Shape.Channels, f = g.Shape.FfnChannels, k = g.K, kf = g.Kf;
        yield return ("ln1", LayerNormForward(w, g));
        yield return ("qkv", Product(w, g, k, 3 * c, bias: true, residual: false, pace));
        yield return ("attention", Attention(w, g, backward: false));
        yield return ("attproj", Product(w, g, k, c, bias: true, residual: true, pace));
        yield return ("ln2", LayerNormForward(w, g));
        yield return ("fc", Product(w, g, k, f, bias: true, residual: false, pace));
        yield return ("gelu", GeluForward(w, g));
        if (full) yield return ("fcproj", Product(w, g, kf, c, bias: true, residual: true, pace));
    }

    public static IEnumerable<(string Phase, long Cycles)> BackwardPhases(WaferConfig w, LayerGrid g, double pace)
    {
        int c = g.Shape.Channels, f = g.Shape.FfnChannels, k = g.K, kf = g.Kf;
        foreach (var p in ForwardPhases(w, g, pace, full: false)) yield return p;
        yield return ("d fcproj.w", WeightGradient(w, g, kf, c, pace));
        yield return ("d gelu", Product(w, g, k, f, bias: false, residual: false, pace));
        yield return ("d fc", GeluBackward(w, g));
        yield return ("d fc.w", WeightGradient(w, g, k, f, pace));
        yield return ("d ln2", Product(w, g, kf, c, bias: false, residual: false, pace));
        yield return ("d r2 = d out", Copy(w, g));
        yield return ("d r2 += ln2'", LayerNormBackward(w, g));
        yield return ("d attproj.w", WeightGradient(w, g, k, c, pace));
        yield return ("d att", Product(w, g, k, c, bias: false, residual: false, pace));
        yield return ("d qkv", Attention(w, g, backward: true));
        yield return ("d qkv.w", WeightGradient(w, g, k, 3 * c, pace));
        yield return ("d ln1", Product(w, g, 3 * k, c, bias: false, residual: false, pace));
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

    public static long Product(WaferConfig w, LayerGrid g, int kin, int outputs, bool bias, bool residual, double pace)
    {
        long su = w.DsdOpStartupCycles, n = g.N;
        var perOutput = 1 + su + kin + kin * (su + n) + (su + n) + (bias ? su + 1 : 0) + (residual ? su + n : 0);
        var chain = (g.Columns - 1) * (w.HopLatencyCycles + 2L * w.RampLatencyCycles);
        return w.TaskStartCycles + g.Rows * w.HopLatencyCycles + outputs * perOutput + chain;
    }

    public static long WeightGradient(WaferConfig w, LayerGrid g, int kin, int outputs, double pace)
    {
        long su = w.DsdOpStartupCycles, n = g.N;
        var perOutput = 1 + (g.Columns > 1 ? su + n : 0) + n * (su + kin) + su + kin;
        return w.TaskStartCycles + outputs * perOutput + g.Rows * (w.HopLatencyCycles + 2L * w.RampLatencyCycles);
    }

    public static long LayerNormForward(WaferConfig w, LayerGrid g)
    {
        long su = w.DsdOpStartupCycles, n = g.N, k = g.K;
        var allreduce = 2 * (n + g.Columns * (w.HopLatencyCycles + 2L * w.RampLatencyCycles));
        return w.TaskStartCycles + su + 2 * k + k * (su + n) * 6 + allreduce + n * Layers.ScalarMath.RsqrtCycles;
    }

    public static long LayerNormBackward(WaferConfig w, LayerGrid g)
    {
        long su = w.DsdOpStartupCycles, n = g.N, k = g.K;
        var allreduce = 2 * n + g.Columns * (w.HopLatencyCycles + 2L * w.RampLatencyCycles);
        return w.TaskStartCycles + su + 2 * k + k * (su + n) * 12 + allreduce + n * (su + 2 * k) + g.Rows * (w.HopLatencyCycles + 2L * w.RampLatencyCycles);
    }

    public static long GeluForward(WaferConfig w, LayerGrid g)
    {
        long len = (long)g.Kf * g.N;
        return w.TaskStartCycles + 8 * (w.DsdOpStartupCycles + len) + len * Layers.ScalarMath.TanhCycles;
    }

    public static long GeluBackward(WaferConfig w, LayerGrid g)
    {
        long len = (long)g.Kf * g.N;
        return w.TaskStartCycles + 6 * (w.DsdOpStartupCycles + len) + len * (Layers.ScalarMath.TanhCycles + GeluBackwardSlope);
    }

    private const int GeluBackwardSlope = 12;

    public static long Copy(WaferConfig w, LayerGrid g) => w.TaskStartCycles + w.DsdOpStartupCycles + (long)g.K * g.N;

    public static long Attention(WaferConfig w, LayerGrid g, bool backward)
    {
        long su = w.DsdOpStartupCycles, n = g.N, keys = g.KeysMax, ws = g.SliceWidth;
        var scores = keys * ws * (su + n);
        var softmax = 4 * keys * (su + n) + keys * n * Layers.ScalarMath.ExpCycles;
        var values = ws * keys * (su + n);
        var gather = 2L * g.K * keys;
        var perSlice = backward ? 2 * scores + softmax + 2 * values + 2 * ws * n * (su + keys) : scores + softmax + values;
        return w.TaskStartCycles + gather + g.Slices * perSlice;
    }
}

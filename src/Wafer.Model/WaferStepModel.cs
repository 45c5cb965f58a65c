// Training step time of a GPT on one or N Cerebras systems by weight streaming (docs/design.md §2.3), from first principles:
// the memory plan (tokens per pass that fit in SRAM), then per layer and pass the slowest of compute, on-wafer
// reduction and weight I/O, then the MemoryX update and SwarmX latency. Every equation is in docs/model.md.
// N tokens per pass, R x Cc program rectangle (tokens on rows, features on columns), C channels, F ffn, L layers.
using Wafer.Core;
using Wafer.Model.Systems;

namespace Wafer.Model;

public sealed record WaferMemoryPlan(
    bool Recompute, long BytesPerTokenKept, long BytesPerTokenWorking, long SramBytesPerPeForActivations,
    long TokensPerRow, long SequencesPerPass, int Passes, long TokensPerPass, double SramFractionUsed);

public sealed record WaferEstimate(
    bool Fits, string? WhyNot, WaferMemoryPlan? Plan, double StepSeconds, double TokensPerSecond, double Mfu, string Bottleneck,
    double ComputeSeconds, double ReduceSeconds, double IoSeconds, double MemoryXSeconds, double SwarmXSeconds, double ModelFlopsPerStep,
    long WeightBytesStreamedPerStep, int Systems)
{
    /// <summary>What priced the step: the layer program (simulated, LayerProgramStepModel; then Compute is the layers on
    /// the fabric and Reduce the host steps) or a first-principles product mapping.</summary>
    public string Mapping { get; init; } = "";
    /// <summary>The layer program's region: columns and worker rows (0 for the other mappings).</summary>
    public int Columns { get; init; }
    public int Rows { get; init; }
}

public static class WaferStepModel
{
    /// <summary>Bytes per activation value on the wafer: fp16.</summary>
    public const int ActivationBytes = 2;
    /// <summary>Bytes per fp32 partial-sum accumulator.</summary>
    public const int AccumulatorBytes = 4;
    /// <summary>AdamW's MemoryX traffic per parameter: read w, m, v, g (16 B) and write w, m, v (12 B).</summary>
    public const int AdamBytesPerParameter = 28;

    /// <summary>Model FLOPs of one training step (no recompute): 6 per parameter per token + attention 12·L·T·C per token.</summary>
    public static double ModelFlops(GptConfig m, long batch, int seq) =>
        batch * (double)seq * (6.0 * ParameterLayout.PublishedCount(m) + 12.0 * m.Layers * seq * m.Channels);

    public static WaferEstimate Estimate(GptConfig m, CerebrasSystem sys, long batch, int seq, int systems = 1)
    {
        var flops = ModelFlops(m, batch, seq);
        var paramBytes0 = 4.0 * 4 * ParameterLayout.PublishedCount(m);
        if (sys.MatmulKernel == MatmulKernel.LayerProgram && paramBytes0 <= sys.MemoryXBytes) return LayerProgramStepModel.Estimate(m, sys, batch, seq, systems);
        var perSystem = (batch + systems - 1) / systems;
        var paramBytes = 4.0 * 4 * ParameterLayout.PublishedCount(m); // fp32 weights, m, v, gradient accumulator
        if (paramBytes > sys.MemoryXBytes)
            return NoFit($"MemoryX holds {sys.MemoryXBytes / 1e12:F1} TB but the model's weights and AdamW state need {paramBytes / 1e12:F2} TB", flops, systems);
        WaferEstimate? best = null;
        string? why = null;
        foreach (var recompute in new[] { false, true })
        {
            var plan = Plan(m, sys, perSystem, seq, recompute, out var reason);
            if (plan is null) { why ??= reason; continue; }
            var e = Time(m, sys, plan, perSystem, seq, systems, flops);
            if (best is null || e.StepSeconds < best.StepSeconds) best = e;
        }
        return best ?? NoFit(why!, flops, systems);
    }

    private static WaferEstimate NoFit(string why, double flops, int systems) =>
        new(false, why, null, double.NaN, 0, 0, "does not fit", 0, 0, 0, 0, 0, flops, 0, systems);

    /// <summary>Cycles of one forward product D_in -> D_out over N tokens on the system's program rectangle (tokens on
    /// rows, features on columns, n = ceil(N / R) tokens and k = ceil(D_in / Cc) features per PE), for the system's
    /// kernel. OverlappedFp16: max(compute k·D_out·(ceil(n / 4) + TS + SU), row traffic D_out·n, weight I/O) + fill.
    /// SimulatedFp32: the closed form of the cycle-level kernel wsmm (one row of the rectangle streams the weights).</summary>
    public static double ForwardProductCycles(CerebrasSystem sys, long tokens, long dIn, long dOut)
    {
        var w = sys.Wafer;
        if (sys.MatmulKernel == MatmulKernel.SimulatedFp32)
        {
            var workerRows = w.HeightPes - 1;
            return Wafer.Kernels.WeightStreaming.WeightStreamModel.ForwardCycles(w, w.WidthPes, workerRows,
                (int)((tokens + workerRows - 1) / workerRows), (int)((dIn + w.WidthPes - 1) / w.WidthPes), (int)dOut);
        }
        return Overlapped(Terms(sys, tokens, dIn, dOut));
    }

    /// <summary>The limits of one product on the rectangle, in cycles: compute k·D_out·(ceil(n / 4) + TS + SU), row
    /// traffic D_out·n, weight I/O, the dW column chain k·D_out, and the fill (R + Cc) hops.</summary>
    private readonly record struct ProductTerms(double Compute, double RowTraffic, double WeightIo, double ColumnReduce, double Fill);

    private static ProductTerms Terms(CerebrasSystem sys, long tokens, long dIn, long dOut)
    {
        var w = sys.Wafer;
        long rows = w.HeightPes, cols = w.WidthPes;
        var n = (tokens + rows - 1) / rows;
        var k = (dIn + cols - 1) / cols;
        var vectorCycles = (n + w.SimdWidthFp16 - 1) / w.SimdWidthFp16 + w.TaskStartCycles + w.DsdOpStartupCycles;
        return new ProductTerms(
            k * dOut * (double)vectorCycles,
            dOut * (double)n / sys.ReduceWaveletsPerCycle,
            dIn * dOut * (double)sys.StreamBytesPerValue / sys.IoBytesPerSecond * w.ClockHz,
            k * dOut * (double)w.HopLatencyCycles,
            (rows + cols) * (double)w.HopLatencyCycles);
    }

    /// <summary>The production mapping's forward: the slowest limit (they overlap) plus the fill.</summary>
    private static double Overlapped(ProductTerms t) => Math.Max(Math.Max(t.Compute, t.RowTraffic), t.WeightIo) + t.Fill;

    /// <summary>Activation bytes one token needs on the wafer for one layer's backward: the block input C, ln1 C, qkv 3C,
    /// attention output C, r2 C, ln2 C, fc and gelu F each, softmax row statistics 2·NH (attention scores are recomputed
    /// in backward, FlashAttention style, never stored).</summary>
    public static long LayerBytesPerToken(GptConfig m) => ActivationBytes * (8L * m.Channels + 2L * m.FfnChannels + 2L * m.Heads);

    public static WaferMemoryPlan? Plan(GptConfig m, CerebrasSystem sys, long sequences, int seq, bool recompute, out string? whyNot)
    {
        var w = sys.Wafer;
        long rows = w.HeightPes, cols = w.WidthPes;
        long perPe = w.SramBytesPerPe - w.ReservedSramBytesPerPe - sys.StreamBufferBytesPerPe;
        // Kept for backward: every layer's activations, or with recompute only each layer's input.
        var kept = recompute ? (long)m.Layers * ActivationBytes * m.Channels : m.Layers * LayerBytesPerToken(m);
        // Working set of the layer being computed: its activations (recompute) and fp32 accumulators of the widest output.
        var working = (recompute ? LayerBytesPerToken(m) : 0) + AccumulatorBytes * (long)Math.Max(3 * m.Channels, m.FfnChannels);
        var perToken = kept + working;
        var tokensPerRow = perPe * cols / perToken; // a token's features spread over the Cc PEs of its row
        var maxTokens = tokensPerRow * rows;
        var seqsPerPass = maxTokens / seq;
        if (seqsPerPass < 1)
        {
            whyNot = $"one sequence of {seq} tokens needs {(double)seq * perToken / 1e9:F1} GB of activations{(recompute ? " even with recompute" : "")}, the wafer has {perPe * cols * rows / 1e9:F1} GB for them: the longest sequence that fits is {maxTokens} tokens";
            return null;
        }
        whyNot = null;
        var passes = (int)((sequences + seqsPerPass - 1) / seqsPerPass);
        var seqsEach = (sequences + passes - 1) / passes;
        var tokensPerPass = seqsEach * seq;
        var used = (double)((tokensPerPass + rows - 1) / rows) * perToken / cols / perPe;
        return new WaferMemoryPlan(recompute, kept, working, perPe, tokensPerRow, seqsPerPass, passes, tokensPerPass, used);
    }

    private static WaferEstimate Time(GptConfig m, CerebrasSystem sys, WaferMemoryPlan plan, long sequences, int seq, int systems, double modelFlops)
    {
        var w = sys.Wafer;
        long rows = w.HeightPes, cols = w.WidthPes, c = m.Channels, f = m.FfnChannels;
        var clock = w.ClockHz;
        var tokPerPe = (plan.TokensPerPass + rows - 1) / rows;
        var simd = w.SimdWidthFp16;
        var overhead = w.TaskStartCycles + w.DsdOpStartupCycles; // per vector op, as in Terms (attention below)
        var vectorCycles = (tokPerPe + simd - 1) / simd + overhead;
        double compute = 0, reduce = 0, io = 0, time = 0; // seconds per pass: each limit summed, and the step's critical path

        // One weight-streaming matmul (D_in -> D_out): forward, backward dX, backward dW; times = max of the three limits.
        void Matmul(long dIn, long dOut, int forwards)
        {
            var t = Terms(sys, plan.TokensPerPass, dIn, dOut);
            var fwdCompute = t.Compute;
            var rowTraffic = t.RowTraffic; // partial sums (fwd) or dY broadcast (dX)
            var weightIo = t.WeightIo;
            var colReduce = t.ColumnReduce; // dW: one scalar per weight down the column chain
            double fwd, bwd;
            if (sys.MatmulKernel == MatmulKernel.SimulatedFp32)
            {
                // The cycle-level kernel's own model; backward taken as two such passes.
                fwd = Math.Max(ForwardProductCycles(sys, plan.TokensPerPass, dIn, dOut), weightIo);
                bwd = 2 * fwd;
                fwdCompute = fwd;
            }
            else
            {
                // forward (and the recompute forward): weights in
                fwd = Overlapped(t);
                // backward: dX (weights in again) and dW (gradients out) share the PEs; I/O is full duplex
                bwd = Math.Max(Math.Max(2 * fwdCompute, rowTraffic + colReduce), weightIo) + t.Fill;
            }
            compute += (forwards * fwdCompute + 2 * fwdCompute) / clock;
            reduce += (forwards * rowTraffic + rowTraffic + colReduce) / clock;
            io += (forwards + 1) * weightIo / clock;
            time += (forwards * fwd + bwd) / clock;
        }

        var forwardsPerLayer = plan.Recompute ? 2 : 1;
        for (var l = 0; l < m.Layers; l++)
        {
            Matmul(c, 3 * c, forwardsPerLayer);
            Matmul(c, c, forwardsPerLayer);
            Matmul(c, f, forwardsPerLayer);
            Matmul(f, c, forwardsPerLayer);
        }
        Matmul(c, m.PaddedVocabSize, 1); // the head (untied or tied: the embedding streams again)
        // Attention (no weights): QK^T and AV per sequence, forward once per forward pass, backward twice plus the
        // recomputed scores; at the same per-PE vector efficiency, with K and V broadcast down the columns.
        var seqsPerPass = plan.TokensPerPass / seq;
        var attentionMacs = m.Layers * seqsPerPass * 2.0 * seq * seq * c * (forwardsPerLayer + 3);
        var pes = (double)rows * cols;
        var efficiency = (double)tokPerPe / simd / vectorCycles;
        var attentionCycles = attentionMacs / (pes * simd * efficiency);
        var kvBroadcast = m.Layers * seqsPerPass * 2.0 * seq * ((c + cols - 1) / cols) * (forwardsPerLayer + 1);
        // Elementwise work per token per layer (LayerNorms, GELU, residual adds, softmax over T per head), fwd and bwd:
        // ~40 C + 10 NH T scalar ops at the fp16 SIMD width.
        var elementwiseCycles = m.Layers * (double)plan.TokensPerPass * (40.0 * c + 10.0 * m.Heads * seq) / (pes * simd);
        compute += (attentionCycles + elementwiseCycles) / clock;
        reduce += kvBroadcast / clock;
        time += (Math.Max(attentionCycles, kvBroadcast) + elementwiseCycles) / clock;

        var perPass = time;
        var passes = plan.Passes;
        var layerSeconds = perPass * passes;
        // MemoryX applies AdamW as gradients arrive; only the last segment's update is exposed (GL-MX), unless the whole
        // update cannot keep up with the step.
        var parameters = ParameterLayout.PublishedCount(m);
        var updateAll = parameters * (double)AdamBytesPerParameter / sys.MemoryXBytesPerSecond;
        var largestSegment = Math.Max((double)m.PaddedVocabSize * c, 12.0 * c * c);
        var updateExposed = largestSegment * AdamBytesPerParameter / sys.MemoryXBytesPerSecond;
        var memoryX = Math.Max(updateExposed, updateAll - layerSeconds);
        // SwarmX: each segment stream (fwd, recompute, bwd) crosses log_fanout(N) levels once per pass.
        var levels = systems > 1 ? Math.Ceiling(Math.Log(systems) / Math.Log(sys.SwarmXFanOut)) : 0;
        var swarm = levels * sys.SwarmXLevelLatencySeconds * passes * (m.Layers + 2) * (forwardsPerLayer + 1);
        var step = layerSeconds + memoryX + swarm;
        var totals = new (string Name, double Seconds)[]
        {
            ("compute", compute * passes), ("fabric reduction/broadcast", reduce * passes), ("weight I/O (MemoryX link)", io * passes), ("MemoryX optimizer", updateAll),
        };
        var bottleneck = totals.MaxBy(t => t.Seconds).Name;
        var weightBytes = (long)(passes * (forwardsPerLayer + 1.0) * parameters * sys.StreamBytesPerValue);
        return new WaferEstimate(true, null, plan, step, sequences * systems * (double)seq / step,
            modelFlops / (step * systems * sys.PeakFlopsPerSecond), bottleneck, compute * passes, reduce * passes, io * passes, memoryX, swarm,
            modelFlops, weightBytes, systems) { Mapping = sys.MatmulKernel == MatmulKernel.SimulatedFp32 ? "wsmm products, fp32 (first principles elsewhere)" : "overlapped fp16 (first principles, not simulated)" };
    }
}

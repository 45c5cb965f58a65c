// Training step time of a GPT on a GPU cluster, Megatron-LM style (Narayanan et al., SC21): tensor parallel t within a
// node, pipeline parallel p (1F1B schedule), data parallel d, micro-batch b, activation recompute full, selective or
// none and sequence parallelism (Korthikanti et al., "Reducing Activation Recomputation in Large Transformer Models",
// 2022). Per layer and
// micro-batch: each GEMM from its shape (whole waves of output tiles over the SMs at the sustained matmul rate: a
// shape that leaves tiles partly empty or the last wave short costs what the full ones would, NVIDIA's Matrix
// Multiplication Background guide §3), elementwise kernels at the sustained HBM rate, tensor-parallel
// all-reduces over NVLink; then the pipeline bubble, stage-to-stage sends and the data-parallel gradient all-reduce.
// Searches every layout that fits in memory and keeps the fastest. Equations in docs/model.md.
using Wafer.Core;
using Wafer.Model.Systems;

namespace Wafer.Model;

/// <summary>What the backward pass recomputes (Korthikanti et al. 2022 §4): the whole forward of each layer from its
/// input (full, SC21's runs), only the attention core whose activations grow with s² (selective), or nothing.</summary>
public enum ActivationRecompute { Full, Selective, None }

public sealed record GpuLayout(int Tensor, int Pipeline, int Data, int MicroBatch, bool ShardedOptimizer,
    ActivationRecompute Recompute = ActivationRecompute.Full, bool SequenceParallel = false)
{
    /// <summary>The layout as `--layout` takes it.</summary>
    public override string ToString() =>
        $"{Tensor},{Pipeline},{Data},{MicroBatch}{(ShardedOptimizer ? ",zero" : "")}{(SequenceParallel ? ",sp" : "")},{Recompute.ToString().ToLowerInvariant()}";
}

public sealed record GpuEstimate(
    bool Fits, string? WhyNot, GpuLayout? Layout, int Gpus, double StepSeconds, double TokensPerSecond, double Mfu,
    double FlopsPerGpuPerSecond, string Bottleneck, double MemoryBytesPerGpu, double ComputeSeconds, double CommunicationSeconds,
    double BubbleSeconds);

public static class GpuStepModel
{
    /// <summary>Estimates the given layout, or (layout null) the fastest layout that fits.</summary>
    public static GpuEstimate Estimate(GptConfig m, GpuSystem g, int gpus, long batch, int seq, GpuLayout? layout = null)
    {
        if (layout is not null) return Evaluate(m, g, gpus, batch, seq, layout);
        GpuEstimate? best = null;
        GpuEstimate? smallest = null;
        foreach (var candidate in Layouts(m, g, gpus, batch))
        {
            var e = Evaluate(m, g, gpus, batch, seq, candidate);
            if (e.Fits && (best is null || e.StepSeconds < best.StepSeconds)) best = e;
            if (smallest is null || e.MemoryBytesPerGpu < smallest.MemoryBytesPerGpu) smallest = e;
        }
        if (best is not null) return best;
        var why = smallest is null
            ? $"no layout of {gpus} GPUs fits batch {batch} and {m.Layers} layers (more data-parallel ranks than sequences)"
            : $"the leanest layout (TP {smallest.Layout!.Tensor}, PP {smallest.Layout.Pipeline}, DP {smallest.Layout.Data}, micro-batch {smallest.Layout.MicroBatch}) needs {smallest.MemoryBytesPerGpu / 1e9:F1} GB per GPU of {g.MemoryBytes / 1e9:F0} GB: use more GPUs";
        return new GpuEstimate(false, why, null, gpus, double.NaN, 0, 0, 0, "does not fit", smallest?.MemoryBytesPerGpu ?? 0, 0, 0, 0);
    }

    private static IEnumerable<GpuLayout> Layouts(GptConfig m, GpuSystem g, int gpus, long batch)
    {
        for (var t = 1; t <= Math.Min(g.GpusPerNode, gpus); t *= 2)
        {
            if (m.Heads % t != 0 || gpus % t != 0) continue;
            for (var p = 1; p <= m.Layers && t * p <= gpus; p++)
            {
                if (m.Layers % p != 0 || gpus % (t * p) != 0) continue;
                var d = gpus / (t * p);
                if (d > batch) continue;
                foreach (var b in new[] { 1, 2, 4, 8, 16, 32 })
                    if (b == 1 || (batch + d - 1) / d >= b)
                        foreach (var sharded in new[] { false, true })
                            foreach (var recompute in Enum.GetValues<ActivationRecompute>())
                                foreach (var sp in t > 1 ? new[] { false, true } : [false])
                                    yield return new GpuLayout(t, p, d, b, sharded, recompute, sp);
            }
        }
    }

    public static GpuEstimate Evaluate(GptConfig m, GpuSystem g, int gpus, long batch, int seq, GpuLayout layout)
    {
        int t = layout.Tensor, p = layout.Pipeline, d = layout.Data, b = layout.MicroBatch;
        if (t * p * d != gpus) throw new ArgumentException($"layout TP {t} x PP {p} x DP {d} is not {gpus} GPUs");
        double h = m.Channels, s = seq, a = m.Heads, v = m.PaddedVocabSize, l = m.Layers;
        // A batch that d x b does not divide is padded up: the last micro-batch of some ranks is partly empty work.
        var microBatches = Math.Ceiling(batch / (double)(d * b));
        var matmulRate = g.PeakFlopsPerSecond * g.MatmulEfficiency;
        var hbmRate = g.MemoryBytesPerSecond * g.MemoryEfficiency;
        var nvlink = g.NvlinkBytesPerSecond * g.NvlinkEfficiency;
        var network = g.NetworkBytesPerSecond * g.NetworkEfficiency;
        double AllReduce(double bytes, int ranks, double rate) => ranks == 1 ? 0 : 2.0 * (ranks - 1) / ranks * bytes / rate;

        // One layer, one micro-batch, forward: GEMMs 24bsh^2 + 4bs^2h (the SC21 count) split over t, each priced by its
        // shape on one GPU (m x n outputs, k deep, `count` of them in a batched GEMM); elementwise traffic
        // = activations written and read once: bs(10h + 24h/t + 5as/t) bytes (Korthikanti et al. 2022, §4.1: LayerNorm,
        // dropout and residual parts are not split by t unless the sequence is, §4.2.2); two all-reduces of the bsh fp16
        // output over NVLink (with sequence parallelism a reduce-scatter and an all-gather of the same volume, §4.2.2).
        double Gemm(double m, double n, double k, double count = 1) => GemmSeconds(g, m, n, k, count, matmulRate);
        double hs = h / a, headsPerGpu = b * a / t;
        var attentionCore = Gemm(s, s, hs, headsPerGpu) // scores, per head
            + Gemm(s, hs, s, headsPerGpu);                // scores x v, per head
        var fwdMatmul = Gemm(b * s, 3 * h / t, h)       // q, k, v
            + attentionCore
            + Gemm(b * s, h, h / t)                       // attention projection
            + Gemm(b * s, 4 * h / t, h)                   // MLP up
            + Gemm(b * s, h, 4 * h / t);                  // MLP down
        var sp = layout.SequenceParallel && t > 1;
        var unsplit = sp ? 10 * h / t : 10 * h;
        var fwdElementwise = 2 * b * s * (unsplit + 24 * h / t + 5 * a * s / t) / hbmRate;
        var coreElementwise = 2 * b * s * 5 * a * s / t / hbmRate; // softmax, its dropout and mask: the 5as/t part
        var fwdTensorComm = 2 * AllReduce(2 * b * s * h, t, nvlink);
        var forward = fwdMatmul + fwdElementwise + fwdTensorComm;
        // Backward = 2x forward's GEMMs and elementwise work, same all-reduces; what is recomputed comes on top: one
        // more forward (full), the attention core's two batched GEMMs and its elementwise work (selective), nothing.
        var backward = 2 * fwdMatmul + 2 * fwdElementwise + fwdTensorComm;
        var (redoMatmul, redoElementwise, redoTensorComm) = layout.Recompute switch
        {
            ActivationRecompute.Full => (fwdMatmul, fwdElementwise, fwdTensorComm),
            ActivationRecompute.Selective => (attentionCore, coreElementwise, 0.0),
            _ => (0.0, 0.0, 0.0),
        };
        var layer = forward + redoMatmul + redoElementwise + redoTensorComm + backward;
        // The head (logits over V, split over t) runs on the last stage: forward, backward 2x.
        var head = 3 * Gemm(b * s, v / t, h);
        var p2p = p == 1 ? 0 : 2 * 2 * b * s * h / network; // activations forward and gradients back per micro-batch
        var stage = l / p * layer + head + p2p;
        var pipeline = (microBatches + p - 1) * stage;
        var bubble = (p - 1) * stage;
        // Data parallel: fp16 gradients of this GPU's shard all-reduced across d ranks over the network, not overlapped.
        var parameters = (double)ParameterLayout.PublishedCount(m);
        var shard = parameters / (t * p);
        var dataComm = AllReduce(2 * shard, d, d * t * p <= g.GpusPerNode ? nvlink : network);
        // Optimizer: read/write fp16 weights, fp32 master, m, v (~ 28 B/param of the optimizer's shard) at HBM rate.
        var optimizer = shard * (layout.ShardedOptimizer ? 28.0 / d : 28.0) / hbmRate;
        var step = pipeline + dataComm + optimizer;

        // Memory per GPU: fp16 weights + fp16 grads (4 B) + fp32 master, m, v (12 B, sharded over d if chosen);
        // activations kept per layer for up to p micro-batches in flight on the first stage (Korthikanti et al. 2022,
        // Table 2, bytes): full recompute each layer's input, 2bsh (/t with the sequence split); selective bsh(10 + 24/t)
        // or 34bsh/t with the sequence split; none bsh(10 + 24/t + 5as/ht) or bsh(34 + 5as/h)/t. Plus one layer's
        // full activations (live while it is computed and differentiated) and the logits (fp32) of one micro-batch.
        var stateBytes = shard * (4 + (layout.ShardedOptimizer ? 12.0 / d : 12.0));
        var fullLayer = b * s * (unsplit + 24 * h / t + 5 * a * s / t);
        var keptPerLayer = layout.Recompute switch
        {
            ActivationRecompute.Full => 2 * b * s * h / (sp ? t : 1),
            ActivationRecompute.Selective => b * s * (unsplit + 24 * h / t),
            _ => fullLayer,
        };
        var kept = l / p * keptPerLayer * Math.Min(p, microBatches);
        var working = fullLayer * 2 + 4 * b * s * v / t;
        var memory = stateBytes + kept + working;
        var fits = memory <= g.MemoryBytes;

        var modelFlops = WaferStepModel.ModelFlops(m, batch, seq);
        var compute = microBatches * (l / p * (3 * fwdMatmul + redoMatmul) + head);
        // The tensor-parallel all-reduces the timeline above runs: forward and backward two each, and the recomputed
        // forward's two with full recompute.
        var comm = microBatches * (l / p * (2 * fwdTensorComm + redoTensorComm) + p2p) + dataComm;
        var elementwise = microBatches * l / p * (3 * fwdElementwise + redoElementwise);
        var parts = new (string Name, double Seconds)[] { ("GPU compute", compute), ("memory-bound kernels", elementwise), ("communication", comm), ("pipeline bubble", bubble) };
        return new GpuEstimate(fits, fits ? null : $"needs {memory / 1e9:F1} GB per GPU of {g.MemoryBytes / 1e9:F0} GB", layout, gpus, step,
            batch * s / step, modelFlops / (step * gpus * g.PeakFlopsPerSecond), HardwareFlops(m, batch, seq, layout.Recompute) / step / gpus,
            parts.MaxBy(x => x.Seconds).Name, memory, compute, comm, bubble);
    }

    /// <summary>Seconds of `count` m x n x k GEMMs batched in one launch: whole waves of whole output tiles, one tile per SM
    /// at a time, each tile's share of the sustained rate (the guide's tile and wave quantization).</summary>
    public static double GemmSeconds(GpuSystem g, double m, double n, double k, double count, double matmulRate)
    {
        var tiles = count * Math.Ceiling(m / g.GemmTileRows) * Math.Ceiling(n / g.GemmTileColumns);
        var waves = Math.Ceiling(tiles / g.StreamingMultiprocessors);
        return waves * g.StreamingMultiprocessors * 2.0 * g.GemmTileRows * g.GemmTileColumns * k / matmulRate;
    }

    /// <summary>FLOPs Megatron counts per step, recomputation included: with full recompute 96·B·s·l·h²·(1 + s/6h +
    /// V/16lh) (SC21 eq. 3); without it 72·B·s·l·h²·(1 + s/6h) + 6·B·s·h·V; selective adds the attention core's
    /// forward, 4·B·s²·l·h (Korthikanti et al. 2022 §6: "hardware FLOPs" count what runs).</summary>
    public static double HardwareFlops(GptConfig m, long batch, int seq, ActivationRecompute recompute = ActivationRecompute.Full)
    {
        double h = m.Channels, s = seq, l = m.Layers, v = m.PaddedVocabSize;
        if (recompute == ActivationRecompute.Full) return 96 * batch * s * l * h * h * (1 + s / (6 * h) + v / (16 * l * h));
        var flops = 72 * batch * s * l * h * h * (1 + s / (6 * h)) + 6 * batch * s * h * v;
        return recompute == ActivationRecompute.Selective ? flops + 4 * batch * s * s * l * h : flops;
    }
}

// The GPU side's calibration rows: Megatron-LM's weak-scaling runs on A100-80GB (Narayanan et al., SC21, Table 1), each
// priced at its published layout: tensor-, pipeline- and data-parallel degrees from the table, the micro-batch from the
// paper's artifact script (NVIDIA/Megatron-LM, examples/sc21/run_table_1.sh: MBS 16, 16 and 4; full "uniform" recompute,
// no interleaved stages for these three). Shapes: vocabulary 51,200, sequence 2048, F = 4h (SC21 §5.1); the figure
// compared is SC21's own count of FLOP/s per GPU, 96·B·s·l·h²·(1 + s/6h + V/16lh) / step time / GPUs.
using Wafer.Core;
using Wafer.Kernels.Validation;
using Wafer.Model.Systems;

namespace Wafer.Model;

public static class GpuCalibration
{
    /// <summary>A GPT of SC21's family: vocabulary 51,200, F = 4h, sequences up to 2048.</summary>
    public static GptConfig Megatron(string name, int layers, int hidden, int heads) => new()
    {
        Name = name, Layers = layers, Channels = hidden, Heads = heads, FfnChannels = 4 * hidden, VocabSize = 51200, PaddedVocabSize = 51200,
        MaxSeqLen = 2048,
    };

    public static IEnumerable<CalibrationRow> Rows()
    {
        var cases = new (GptConfig Model, int Gpus, int Tensor, int Pipeline, int MicroBatch, long Batch, double PublishedTflops)[]
        {
            (Megatron("megatron-1.7b", 24, 2304, 24), 32, 1, 1, 16, 512, 137),
            (Megatron("megatron-7.5b", 36, 4096, 32), 128, 4, 1, 16, 512, 142),
            (Megatron("megatron-39.1b", 48, 8192, 64), 512, 8, 2, 4, 1536, 138),
        };
        foreach (var (m, gpus, t, p, b, batch, published) in cases)
        {
            var d = gpus / (t * p);
            var e = GpuStepModel.Evaluate(m, GpuSystem.A100_80, gpus, batch, 2048, new GpuLayout(t, p, d, b, ShardedOptimizer: false));
            if (!e.Fits) throw new InvalidOperationException($"{m.Name} does not fit at its published layout: {e.WhyNot}");
            yield return new CalibrationRow(
                $"{m.Name}, {gpus} x A100-80GB, TP {t} PP {p} DP {d} MB {b}, batch {batch} (SC21 Table 1)", published, e.FlopsPerGpuPerSecond / 1e12, "TFLOP/s per GPU",
                $"the GPU model at the published layout; step {e.StepSeconds:F2} s, of it bubble {e.BubbleSeconds:F2} s and communication {e.CommunicationSeconds:F2} s", "SC21 Megatron-LM (GPU model)");
        }
    }
}

using Wafer.Core;
using Wafer.Fabric.Config;
using Wafer.Model.Systems;

namespace Wafer.Model.Tests;

public class WaferStepModelTests
{
    // 10 x 4 PEs of 48 KiB, 2 KiB reserved for code and 2 KiB for stream buffers: 45,056 B of activations per PE.
    private static readonly CerebrasSystem Small = CerebrasSystem.Cs2 with { Name = "small", Wafer = WaferPresets.Cs2 with { WidthPes = 10, HeightPes = 4 } };
    private static readonly GptConfig Tiny = new() { Layers = 2, Channels = 64, Heads = 4, FfnChannels = 256, VocabSize = 100, PaddedVocabSize = 100, MaxSeqLen = 16 };

    [Fact]
    public void MemoryPlan_KeepingActivations_HandWorked()
    {
        // per layer and token: 2 B x (8 x 64 + 2 x 256 + 2 x 4) = 2,064 B; two layers kept = 4,128 B; accumulators 4 B x 256.
        // 45,056 B x 10 PEs / 5,152 B = 87 tokens per row, 348 on 4 rows = 21 sequences of 16: batch 50 takes 3 passes of 17.
        var p = WaferStepModel.Plan(Tiny, Small, 50, 16, recompute: false, out _)!;
        Assert.Equal(4128, p.BytesPerTokenKept);
        Assert.Equal(1024, p.BytesPerTokenWorking);
        Assert.Equal(87, p.TokensPerRow);
        Assert.Equal(21, p.SequencesPerPass);
        Assert.Equal(3, p.Passes);
        Assert.Equal(17 * 16, p.TokensPerPass);
    }

    [Fact]
    public void MemoryPlan_Recomputing_HandWorked()
    {
        // kept: each layer's input, 2 x 2 B x 64 = 256 B; working: one layer 2,064 B + 1,024 B. 450,560 / 3,344 = 134
        // tokens per row, 536 in all = 33 sequences: batch 50 takes 2 passes of 25.
        var p = WaferStepModel.Plan(Tiny, Small, 50, 16, recompute: true, out _)!;
        Assert.Equal(256, p.BytesPerTokenKept);
        Assert.Equal(3088, p.BytesPerTokenWorking);
        Assert.Equal(134, p.TokensPerRow);
        Assert.Equal(2, p.Passes);
        Assert.Equal(25 * 16, p.TokensPerPass);
    }

    [Fact]
    public void ModelFlops_IsSixPerParameterPerTokenPlusAttention()
    {
        const double tokens = 2048;
        Assert.Equal(tokens * (6.0 * 1_315_723_264 + 12.0 * 24 * 2048 * 2048), WaferStepModel.ModelFlops(GptPresets.Gpt3Xl, 1, 2048), 1);
    }

    private static readonly CerebrasSystem Overlapped = CerebrasSystem.Cs2 with { MatmulKernel = MatmulKernel.OverlappedFp16 };

    [Fact]
    public void TooLongASequence_DoesNotFit_AndSaysWhatWould()
    {
        var tinyWafer = Overlapped with { Wafer = WaferPresets.Cs2 with { WidthPes = 4, HeightPes = 4 } };
        var e = WaferStepModel.Estimate(GptPresets.Gpt3Xl, tinyWafer, 1, 2048);
        Assert.False(e.Fits);
        Assert.Contains("longest sequence that fits", e.WhyNot);
        var program = WaferStepModel.Estimate(GptPresets.Gpt3Xl, tinyWafer with { MatmulKernel = MatmulKernel.LayerProgram }, 1, 2048);
        Assert.False(program.Fits);
        Assert.Contains("no region of the 4 x 4 wafer", program.WhyNot);
    }

    [Fact]
    public void StateBeyondMemoryX_DoesNotFit()
    {
        var e = WaferStepModel.Estimate(GptPresets.GptNeoX20B, CerebrasSystem.Cs2 with { MemoryXBytes = 100e9 }, 50, 2048);
        Assert.False(e.Fits);
        Assert.Contains("MemoryX", e.WhyNot);
    }

    [Theory]
    [InlineData("gpt3-xl", 121, MatmulKernel.OverlappedFp16)]
    [InlineData("gptj-6b", 65, MatmulKernel.OverlappedFp16)]
    [InlineData("gpt3-13b", 60, MatmulKernel.OverlappedFp16)]
    [InlineData("gpt-neox-20b", 50, MatmulKernel.OverlappedFp16)]
    [InlineData("gpt3-xl", 121, MatmulKernel.LayerProgram)]
    [InlineData("gptj-6b", 65, MatmulKernel.LayerProgram)]
    [InlineData("gpt3-13b", 60, MatmulKernel.LayerProgram)]
    [InlineData("gpt-neox-20b", 50, MatmulKernel.LayerProgram)]
    public void SeedModels_FitOnOneCs2_AndScaleWithSystems(string name, long batch, MatmulKernel mapping)
    {
        var m = GptPresets.Find(name)!;
        var sys = CerebrasSystem.Cs2 with { MatmulKernel = mapping };
        var one = WaferStepModel.Estimate(m, sys, batch, 2048);
        Assert.True(one.Fits, one.WhyNot);
        // The layer program as simulated overlaps nothing across its phases and sums every product's partials one output
        // at a time: its utilization is a few percent (docs/model.md §6); the first-principles overlapped mapping's higher.
        Assert.InRange(one.Mfu, mapping == MatmulKernel.LayerProgram ? 0.01 : 0.05, 1.0);
        Assert.Equal(one.TokensPerSecond, batch * 2048 / one.StepSeconds, 6);
        // The step is at least each of its limits: compute (the layers, for the layer program), link I/O.
        Assert.True(one.StepSeconds >= one.IoSeconds && one.StepSeconds >= one.ComputeSeconds * 0.999);
        var four = WaferStepModel.Estimate(m, sys, batch * 4, 2048, systems: 4);
        Assert.True(four.TokensPerSecond > 3 * one.TokensPerSecond && four.TokensPerSecond <= 4 * one.TokensPerSecond * 1.001,
            $"4 systems: {four.TokensPerSecond} tokens/s vs {one.TokensPerSecond}");
    }

    [Fact]
    public void ATinyBatch_IsBoundByMemoryXAndTheLink_NotCompute()
    {
        // One short sequence: 20.5 B parameters x 28 B of AdamW traffic at 150 GB/s = 3.8 s of optimizer per step, and
        // 2 x 41 GB of fp16 weights over the link, for 128 tokens of compute.
        var e = WaferStepModel.Estimate(GptPresets.GptNeoX20B, Overlapped, 1, 128);
        Assert.Equal("MemoryX optimizer", e.Bottleneck);
        Assert.Equal(20_554_567_680.0 * 28 / 150e9, e.MemoryXSeconds + (e.StepSeconds - e.MemoryXSeconds - e.SwarmXSeconds), 6);
        Assert.True(e.IoSeconds > e.ComputeSeconds);
    }
}

public class GpuStepModelTests
{
    private static GptConfig Megatron(int l, int h, int a) => GpuCalibration.Megatron($"megatron-{l}x{h}", l, h, a);

    // docs/sources.md §9: Narayanan et al. SC21, Table 1 (A100-80GB, seq 2048), at their published layouts (micro-batch
    // from the paper's run script), as `wafer validate` prints them; nothing is fitted per row.
    [Fact]
    public void PublishedMegatronRows_AreReproducedWithin10Percent()
    {
        var rows = GpuCalibration.Rows().ToList();
        Assert.Equal(3, rows.Count);
        Assert.All(rows, r => Assert.True(Math.Abs(r.RelativeError) <= 0.10, $"{r.Name}: {r.Simulated:F1} vs {r.Published} ({r.RelativeError:P1})"));
        Assert.All(rows.Take(2), r => Assert.True(Math.Abs(r.RelativeError) <= 0.02, $"{r.Name}: {r.RelativeError:P1}"));
        Assert.All(rows, r => Assert.Equal("TFLOP/s per GPU", r.Unit));
    }

    [Theory]
    [InlineData(24, 2304, 24, 32, 1, 1, 512, 16)]
    [InlineData(36, 4096, 32, 128, 4, 1, 512, 16)]
    [InlineData(48, 8192, 64, 512, 8, 2, 1536, 2)]
    public void AtTheirPublishedDegrees_TheMegatronRowsFavourTheMicroBatchesMegatronUsed(int l, int h, int a, int gpus, int tp, int pp, long batch, int fastest)
    {
        // Without the GEMMs' tile and wave quantization every row preferred micro-batch 1 (the smallest bubble, or no
        // cost at all without a pipeline); SC21's runs used 16, 16 and 4 (docs/sources.md §9).
        var m = Megatron(l, h, a);
        var best = new[] { 1, 2, 4, 8, 16, 32 }
            .Select(b => GpuStepModel.Evaluate(m, GpuSystem.A100_80, gpus, batch, 2048, new GpuLayout(tp, pp, gpus / (tp * pp), b, false)))
            .Where(e => e.Fits).MinBy(e => e.StepSeconds)!;
        Assert.Equal(fastest, best.Layout!.MicroBatch);
    }

    [Fact]
    public void AGemmCostsWholeWavesOfWholeTiles()
    {
        var g = GpuSystem.A100_80;
        var rate = g.PeakFlopsPerSecond * g.MatmulEfficiency;
        // 108 full 256 x 128 tiles: one wave, the ideal time; one more tile: a second wave, twice the time.
        Assert.Equal(2.0 * 108 * 256 * 128 * 512 / rate, GpuStepModel.GemmSeconds(g, 256 * 108, 128, 512, 1, rate), 12);
        Assert.Equal(2 * GpuStepModel.GemmSeconds(g, 256 * 108, 128, 512, 1, rate), GpuStepModel.GemmSeconds(g, 256 * 109, 128, 512, 1, rate), 12);
        // A 100-row GEMM costs a whole 256-row tile, and a batch of 4 fills 4 tiles' worth of SMs.
        Assert.Equal(GpuStepModel.GemmSeconds(g, 256, 128, 64, 1, rate), GpuStepModel.GemmSeconds(g, 100, 128, 64, 1, rate), 12);
        Assert.Equal(GpuStepModel.GemmSeconds(g, 256 * 4, 128, 64, 1, rate), GpuStepModel.GemmSeconds(g, 256, 128, 64, 4, rate), 12);
    }

    [Theory]
    [InlineData("8,2,32,1", 8, 2, 32, 1, false)]
    [InlineData(" 8, 2, 32, 4, zero ", 8, 2, 32, 4, true)]
    [InlineData("8,2,32,4,sp,selective", 8, 2, 32, 4, false, ActivationRecompute.Selective, true)]
    [InlineData("8,2,32,4,none,zero", 8, 2, 32, 4, true, ActivationRecompute.None)]
    [InlineData("8,2,32,4,full", 8, 2, 32, 4, false, ActivationRecompute.Full)]
    public void ALayoutIsParsed(string text, int t, int p, int d, int b, bool zero, ActivationRecompute recompute = ActivationRecompute.Full, bool sp = false)
    {
        var layout = GpuLayoutText.Parse(text, Megatron(48, 8192, 64), 512, 1536);
        Assert.Equal(new GpuLayout(t, p, d, b, zero, recompute, sp), layout);
        Assert.Equal(layout, GpuLayoutText.Parse(layout.ToString(), Megatron(48, 8192, 64), 512, 1536));
    }

    [Theory]
    [InlineData("8,2,32", "must be tp,pp,dp,mb")]
    [InlineData("8,2,16,1", "= 256 GPUs, not --gpus 512")]
    [InlineData("8,2,x,1", "data-parallel degree must be a whole number")]
    [InlineData("8,2,32,0", "micro-batch must be a whole number >= 1")]
    [InlineData("8,2,32,1,zer0", "'zer0' is not a layout flag")]
    [InlineData("8,2,32,1,sp,sp", "'sp' is given twice")]
    [InlineData("8,2,32,1,full,selective", "two recompute choices")]
    [InlineData("1,1,512,1,sp", "TP is 1")]
    [InlineData("128,1,4,1", "does not divide model megatron-48x8192's 64 heads")]
    [InlineData("8,5,32,1", "GPUs, not --gpus")]
    [InlineData("2,32,8,1", "does not divide")]
    [InlineData("1,1,512,4", "exceeds the batch of 1536")]
    public void ABadLayoutIsRefusedWithWhatIsWrong(string text, string message)
    {
        var e = Assert.Throws<WaferInputException>(() => GpuLayoutText.Parse(text, Megatron(48, 8192, 64), 512, 1536));
        Assert.Contains(message, e.Message);
    }

    /// <summary>Korthikanti et al. 2022: per layer the backward keeps 2bsh (full recompute), bsh(10 + 24/t) (selective)
    /// or bsh(10 + 24/t + 5as/ht) (none) bytes of activations, sequence parallelism divides the 10bsh part by t; what is
    /// recomputed costs time, full most. At SC21's 39.1B layout (TP 8, PP 2, MB 4) the memory and the step order as the
    /// paper's Table 2 and §6 say, and full recompute is exactly the model's old pricing.</summary>
    [Fact]
    public void RecomputeAndSequenceParallelism_TradeMemoryForTime()
    {
        var m = Megatron(48, 8192, 64);
        GpuEstimate E(ActivationRecompute r, bool sp = false) =>
            GpuStepModel.Evaluate(m, GpuSystem.A100_80, 512, 1536, 2048, new GpuLayout(8, 2, 32, 4, false, r, sp));
        var (full, selective, none) = (E(ActivationRecompute.Full), E(ActivationRecompute.Selective), E(ActivationRecompute.None));
        Assert.True(full.MemoryBytesPerGpu < selective.MemoryBytesPerGpu && selective.MemoryBytesPerGpu < none.MemoryBytesPerGpu);
        Assert.True(full.StepSeconds > selective.StepSeconds && selective.StepSeconds > none.StepSeconds);
        // Kept activations differ by exactly the formulas: selective - full per layer and micro-batch in flight.
        double b = 4, s = 2048, h = 8192, t = 8, layersPerStage = 24, inFlight = 2;
        Assert.Equal(layersPerStage * inFlight * (b * s * h * (10 + 24 / t) - 2 * b * s * h), selective.MemoryBytesPerGpu - full.MemoryBytesPerGpu, 1e-6 * full.MemoryBytesPerGpu);
        // Sequence parallelism: less memory, less elementwise traffic, the same communication volume.
        var spSelective = E(ActivationRecompute.Selective, sp: true);
        Assert.True(spSelective.MemoryBytesPerGpu < selective.MemoryBytesPerGpu);
        Assert.True(spSelective.StepSeconds < selective.StepSeconds);
        Assert.Equal(selective.CommunicationSeconds, spSelective.CommunicationSeconds, 12);
        // Selective recompute costs a few percent over none (the paper's §6: 2-4 % at these sizes), full about a third.
        Assert.InRange(selective.StepSeconds / none.StepSeconds, 1.0, 1.06);
        Assert.InRange(full.StepSeconds / none.StepSeconds, 1.2, 1.4);
        // Hardware FLOPs count what runs: full = SC21's 96 factor, none = the 72 factor, selective in between.
        Assert.True(GpuStepModel.HardwareFlops(m, 1536, 2048, ActivationRecompute.None) < GpuStepModel.HardwareFlops(m, 1536, 2048, ActivationRecompute.Selective));
        Assert.Equal(GpuStepModel.HardwareFlops(m, 1536, 2048), GpuStepModel.HardwareFlops(m, 1536, 2048, ActivationRecompute.Full));
    }

    [Fact]
    public void AGivenLayoutIsPricedAsIs()
    {
        var m = Megatron(48, 8192, 64);
        var e = GpuStepModel.Estimate(m, GpuSystem.A100_80, 512, 1536, 2048, GpuLayoutText.Parse("8,2,32,8", m, 512, 1536));
        Assert.Equal(new GpuLayout(8, 2, 32, 8, false), e.Layout);
        Assert.True(e.StepSeconds > GpuStepModel.Estimate(m, GpuSystem.A100_80, 512, 1536, 2048, new GpuLayout(8, 2, 32, 1, false)).StepSeconds);
    }

    [Fact]
    public void HardwareFlops_IsMegatronsFormula()
    {
        var m = Megatron(24, 2304, 24);
        var expected = 96.0 * 512 * 2048 * 24 * 2304.0 * 2304 * (1 + 2048 / (6.0 * 2304) + 51200 / (16.0 * 24 * 2304));
        Assert.Equal(expected, GpuStepModel.HardwareFlops(m, 512, 2048), 1);
    }

    [Fact]
    public void NeoX20B_DoesNotFitOnEight40GbGpus_ButFitsOn64()
    {
        var e = GpuStepModel.Estimate(GptPresets.GptNeoX20B, GpuSystem.A100_40, 8, 8, 2048);
        Assert.False(e.Fits);
        Assert.Contains("use more GPUs", e.WhyNot);
        var ok = GpuStepModel.Estimate(GptPresets.GptNeoX20B, GpuSystem.A100_40, 64, 64, 2048);
        Assert.True(ok.Fits, ok.WhyNot);
        Assert.True(ok.MemoryBytesPerGpu <= 40e9);
    }

    [Fact]
    public void LayoutSearch_PicksTheFastestFittingLayout()
    {
        var m = Megatron(36, 4096, 32);
        var chosen = GpuStepModel.Estimate(m, GpuSystem.A100_80, 128, 512, 2048);
        var fixedTp4 = GpuStepModel.Evaluate(m, GpuSystem.A100_80, 128, 512, 2048, new GpuLayout(4, 1, 32, 1, false));
        Assert.True(chosen.StepSeconds <= fixedTp4.StepSeconds);
    }
}

/// <summary>The step model's forward-product term against the cycle-level kernel it prices (wsmm), run on the simulator.</summary>
public class ModelVersusSimulatorTests
{
    [Theory]
    [InlineData(4, 4, 8, 4, 16)]
    [InlineData(7, 6, 5, 3, 9)]
    [InlineData(16, 9, 12, 2, 24)]
    public void ForwardProduct_AgreesWithTheSimulatedKernelWithin10Percent(int columns, int height, int tokensPerPe, int featuresPerPe, int outputs)
    {
        var wafer = WaferPresets.Cs2 with { Name = "small", WidthPes = columns, HeightPes = height };
        var sys = CerebrasSystem.Cs2 with { Wafer = wafer, MatmulKernel = MatmulKernel.SimulatedFp32, IoBytesPerSecond = 1e15 };
        var workerRows = height - 1;
        var modelled = WaferStepModel.ForwardProductCycles(sys, (long)tokensPerPe * workerRows, (long)featuresPerPe * columns, outputs);
        var run = Wafer.Kernels.DemoRegistry.Find("wsmm")!.Run(wafer, new Wafer.Kernels.DemoSize(columns, workerRows, tokensPerPe, featuresPerPe, Outputs: outputs),
            new Wafer.Fabric.Engine.SimulatorOptions { Threads = 1 });
        Assert.True(run.Verified);
        var error = Math.Abs(modelled - run.Simulator.Cycle) / run.Simulator.Cycle;
        Assert.True(error <= 0.10, $"model {modelled} vs simulated {run.Simulator.Cycle} cycles ({error:P1})");
    }

    [Fact]
    public void TheProductionMapping_IsFasterThanTheSimulatedKernel()
    {
        // fp16 at width 4 with the reduction overlapped vs fp32 at width 1 with one op stream: GPT-3 XL's fc on a pass.
        var overlapped = WaferStepModel.ForwardProductCycles(CerebrasSystem.Cs2, 124_928, 2048, 8192);
        var simulated = WaferStepModel.ForwardProductCycles(CerebrasSystem.Cs2 with { MatmulKernel = MatmulKernel.SimulatedFp32 }, 124_928, 2048, 8192);
        Assert.True(overlapped < simulated / 2, $"{overlapped} vs {simulated}");
    }
}

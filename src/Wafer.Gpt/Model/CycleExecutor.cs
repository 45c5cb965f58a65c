// The cycle-level executor (docs/design.md §2.4 "cycle"): the segment contract served by the transformer layer program on
// the simulated wafer (Wafer.Kernels.Transformer, docs/transformer.md). A pass's B x T tokens live on the region's
// worker PEs in the block layout; each block's weights stream from MemoryX through the edge row's ports, phase by
// phase; each layer's input stays in SRAM for the backward, which recomputes the layer's other activations first and
// sends every weight gradient back through the edge to MemoryX. Two steps run on the host, charged from a stated model
// (docs/transformer.md §5): the embedding lookup (its output crosses the MemoryX link into the wafer) and the head
// (final LayerNorm, logits, softmax and cross-entropy, and their backward), whose result d(last block output) crosses
// the link back. Numerics are fp32 throughout; the host steps use the fast executor's layers.
// B batch, T sequence, C channels, F ffn, V vocabulary (Vp padded), L layers, N = B T tokens.
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Gpt.Layers;
using Wafer.Gpt.MemoryX;
using Wafer.Kernels.Transformer;

namespace Wafer.Gpt.Model;

/// <summary>The wafer and the region the cycle executor runs on. Columns/Rows 0: chosen (LayerRegion.Choose).</summary>
public sealed record CycleOptions
{
    public WaferConfig Wafer { get; init; } = WaferPresets.Cs2;
    public int Columns { get; init; }
    public int Rows { get; init; }
    /// <summary>The MemoryX link into the wafer's edge, e.g. 150 GB/s each way (12 x 100 GbE, docs/model.md §1).</summary>
    public double MemoryXBytesPerSecond { get; init; } = 150e9;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>The products in the production mapping: fp16 operands (weights streamed in fp16), fp32 accumulation by
    /// @fmachs; LayerNorm, attention, GELU, residuals and all gradients stay fp32.</summary>
    public bool Fp16 { get; init; }
}

public sealed partial class CycleExecutor : IGptExecutor
{
    private readonly IMemoryXLink _store;
    private readonly GptConfig _cfg;
    private readonly ParameterLayout _layout;
    private readonly LayerProgram _program;
    private readonly LayerGrid _grid;
    private readonly BlockSchedule _schedule;
    private readonly bool _fp16;
    private readonly int _threads; // the host steps' products and layers (CycleOptions.Threads)
    private readonly double _pace;
    private readonly float[] _encoded, _last, _lnf, _lnfMean, _lnfRstd, _logits, _probs, _losses, _dLast, _dLnf, _dLogits, _dLosses;
    private readonly float[] _weights, _grads, _headEmbedding;
    private int[] _inputs = [], _targets = [];
    private long _bytesStreamed;

    public int Batch { get; }
    public int SeqLen { get; }
    public long BytesStreamed => _bytesStreamed;
    public long DeviceBytes { get; }
    public FabricAccount Fabric { get; }
    FabricAccount? IGptExecutor.Fabric => Fabric;
    public LayerGrid Grid => _grid;

    /// <summary>The region a pass of B x T tokens of this model runs on; refuses (before anything is allocated) a model
    /// the layer program does not run, a region that does not divide the tokens, and one whose PEs would overflow.</summary>
    public static LayerGrid Admit(GptConfig cfg, int batch, int seqLen, CycleOptions options)
    {
        if (batch < 1 || seqLen < 1 || seqLen > cfg.MaxSeqLen) throw new WaferInputException($"batch {batch} and sequence {seqLen} must be >= 1, sequence <= {cfg.MaxSeqLen}");
        var bt = batch * seqLen;
        var shape = LayerShape.Of(cfg, seqLen);
        if (options.Columns <= 0 || options.Rows <= 0) return LayerRegion.Choose(options.Wafer, shape, bt, cfg.Layers);
        if (bt % options.Rows != 0)
            throw new WaferInputException($"region {options.Rows}x{options.Columns}: {options.Rows} worker rows do not divide the {bt} tokens of a pass (B {batch} x T {seqLen})");
        var grid = new LayerGrid(options.Columns, options.Rows, bt / options.Rows, shape);
        try
        {
            grid.Check();
            new LayerMemory(grid, cfg.Layers).Check(grid, options.Wafer.UsableSramBytesPerPe, cfg.Layers);
        }
        catch (WaferInputException e)
        {
            // Name a region that would fit, where one exists.
            LayerGrid? fits = null;
            try { fits = LayerRegion.Choose(options.Wafer, shape, bt, cfg.Layers); } catch (WaferInputException) { }
            throw new WaferInputException(fits is null ? e.Message : $"{e.Message}; --region {fits.Rows}x{fits.Columns} fits");
        }
        return grid;
    }

    public CycleExecutor(IMemoryXLink store, int batch, int seqLen, CycleOptions options)
    {
        _store = store;
        _layout = store.Layout;
        _cfg = _layout.Config;
        _grid = Admit(_cfg, batch, seqLen, options);
        Batch = batch;
        SeqLen = seqLen;
        int c = _cfg.Channels, vp = _cfg.PaddedVocabSize, bt = batch * seqLen;
        _threads = options.Threads;
        _program = new LayerProgram(options.Wafer, _grid, _cfg.Layers, new SimulatorOptions { Threads = options.Threads, MaxCycles = long.MaxValue / 4 });
        // A column's share of the link, in cycles per fp32 value (4 B): the link's bytes per cycle split over the columns.
        _pace = 4.0 * _grid.Columns / (options.MemoryXBytesPerSecond / options.Wafer.ClockHz);
        _fp16 = options.Fp16;
        _schedule = new BlockSchedule(_program, _pace, _fp16);
        _encoded = new float[bt * c]; _last = new float[bt * c]; _lnf = new float[bt * c]; _lnfMean = new float[bt]; _lnfRstd = new float[bt];
        _logits = new float[bt * vp]; _probs = new float[bt * vp]; _losses = new float[bt];
        _dLast = new float[bt * c]; _dLnf = new float[bt * c]; _dLogits = new float[bt * vp]; _dLosses = new float[bt];
        _weights = new float[_layout.LargestSegment];
        _grads = new float[_layout.LargestSegment];
        _headEmbedding = _cfg.TiedEmbedding ? new float[_layout.Embedding["wte"].Count] : [];
        DeviceBytes = (long)_program.Memory.Bytes * _grid.Columns * _grid.Rows;
        Fabric = new FabricAccount
        {
            Wafer = options.Wafer.Name, Columns = _grid.Columns, Rows = _grid.Rows, TokensPerRow = _grid.N,
            ClockHz = options.Wafer.ClockHz, PeakFlopsPerPeCycle = options.Wafer.PeakFlopsPerPeCycle,
        };
    }

    public ReadOnlySpan<float> Probabilities(int b, int t) => _probs.AsSpan((b * SeqLen + t) * _cfg.PaddedVocabSize, _cfg.VocabSize);

    public float Forward(int[] inputs, int[]? targets)
    {
        Start(inputs, targets);
        BeginPass();
        Embed();
        for (var l = 0; l < _cfg.Layers; l++) Account(l, "forward", () => ForwardLayer(l, Fetch(1 + l)));
        HeadForward();
        EndPass();
        return MeanLoss();
    }

    public float TrainPass(int[] inputs, int[] targets, bool lastPassOfStep)
    {
        Start(inputs, targets);
        BeginPass();
        Embed();
        for (var l = 0; l < _cfg.Layers; l++) Account(l, "forward", () => ForwardLayer(l, Fetch(1 + l)));
        HeadForward();
        var loss = MeanLoss();
        var head = HeadBackward(lastPassOfStep);
        _program.Write(_program.Memory.DOut, _dLast, _cfg.Channels);
        for (var l = _cfg.Layers - 1; l >= 0; l--)
        {
            var w = Fetch(1 + l);
            Account(l, "backward", () => BackwardLayer(l, w));
            Send(1 + l, lastPassOfStep);
        }
        EmbeddingBackward(head, lastPassOfStep);
        EndPass();
        return loss;
    }

    private void Start(int[] inputs, int[]? targets)
    {
        Check(inputs, "inputs");
        if (targets is not null) Check(targets, "targets");
        _inputs = inputs;
        _targets = targets ?? [];
    }

    private void Check(int[] tokens, string what)
    {
        if (tokens.Length != Batch * SeqLen) throw new ArgumentException($"{what} must hold B*T = {Batch * SeqLen} tokens (has {tokens.Length})");
        foreach (var tok in tokens)
            if (tok < 0 || tok >= _cfg.VocabSize) throw new ArgumentException($"{what}: token {tok} is outside the vocabulary of {_cfg.VocabSize}");
    }

    private float MeanLoss()
    {
        if (_targets.Length == 0) return float.NaN;
        double sum = 0;
        foreach (var l in _losses) sum += l;
        return (float)(sum / _losses.Length);
    }

    /// <summary>Segment s's weights from MemoryX (applying its deferred update), as the device receives them.</summary>
    private float[] Fetch(int s)
    {
        var w = _store.Fetch(s, _weights);
        _bytesStreamed += 4L * _layout.Segments[s].Count;
        return w;
    }

    /// <summary>Segment s's gradient (in _grads) to MemoryX.</summary>
    private void Send(int s, bool lastOfStep)
    {
        var count = (int)_layout.Segments[s].Count;
        _store.AccumulateGradient(s, _grads.AsSpan(0, count), lastOfStep);
        _bytesStreamed += 4L * count;
    }
}

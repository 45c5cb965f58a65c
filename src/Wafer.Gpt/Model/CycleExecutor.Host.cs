// The cycle executor's host steps and its account of the simulated machine. The embedding lookup and the head run on
// the host with the fast executor's layers (same arithmetic); their time is charged from a stated model
// (HostStepCycles, docs/transformer.md §5), not simulated.
using Wafer.Core;
using Wafer.Gpt.Layers;
using Wafer.Gpt.Numerics;
using Wafer.Kernels.Transformer;

namespace Wafer.Gpt.Model;

public sealed partial class CycleExecutor
{
    private long _passStartCycles, _passStartSteps;
    private double _passStartWall;

    /// <summary>x0 = wte[token] + wpe[position] into block 0's input on the wafer.</summary>
    private void Embed()
    {
        var w = Fetch(0);
        var embed = _layout.Embedding;
        var wte = Tensor(w, embed, "wte");
        var wpe = embed.Has("wpe") ? Tensor(w, embed, "wpe") : [];
        if (_cfg.TiedEmbedding) wte.CopyTo(_headEmbedding);
        Encoder.Forward(_encoded, _inputs, wte, wpe, Batch, SeqLen, _cfg.Channels);
        _program.Write(M.Inputs[0], _encoded, _cfg.Channels);
    }

    private ReadOnlySpan<float> Unembedding(float[] headWeights) =>
        _cfg.TiedEmbedding ? _headEmbedding : Tensor(headWeights, _layout.Head, "lm_head.w");

    private void HeadForward()
    {
        int bt = Batch * SeqLen, c = _cfg.Channels, v = _cfg.VocabSize, vp = _cfg.PaddedVocabSize;
        var head = _layout.Head;
        var w = Fetch(_layout.Segments.Count - 1);
        _program.Read(M.Inputs[_cfg.Layers], c).CopyTo(_last, 0);
        LayerNorm.Forward(_lnf, _lnfMean, _lnfRstd, _last, Tensor(w, head, "lnf.w"), Tensor(w, head, "lnf.b"), bt, c, _threads);
        Linear.Forward(_logits, _lnf, Unembedding(w), head.Has("lm_head.b") ? Tensor(w, head, "lm_head.b") : [], bt, c, vp, _threads);
        CrossEntropy.SoftmaxForward(_probs, _logits, bt, v, vp, _threads);
        if (_targets.Length > 0) CrossEntropy.LossForward(_losses, _probs, _targets, bt, vp);
    }

    /// <summary>The head's backward into _dLast; sends the head segment's gradient; returns the unembedding's gradient of
    /// wte for a tied model (null otherwise).</summary>
    private float[]? HeadBackward(bool lastOfStep)
    {
        int bt = Batch * SeqLen, c = _cfg.Channels, v = _cfg.VocabSize, vp = _cfg.PaddedVocabSize;
        var head = _layout.Head;
        var w = Fetch(_layout.Segments.Count - 1);
        Array.Clear(_dLogits);
        Array.Fill(_dLosses, 1f / bt);
        CrossEntropy.Backward(_dLogits, _dLosses, _probs, _targets, bt, v, vp, _threads);
        var g = _grads.AsSpan(0, (int)head.Count);
        g.Clear();
        Linear.BackwardInput(_dLnf, _dLogits, Unembedding(w), bt, c, vp, _threads, accumulate: false);
        float[]? dwte = null;
        if (_cfg.TiedEmbedding)
        {
            dwte = new float[_layout.Embedding["wte"].Count];
            Linear.BackwardWeight(dwte, [], _dLogits, _lnf, bt, c, vp, _threads, accumulate: false);
        }
        else Linear.BackwardWeight(G(head, "lm_head.w"), head.Has("lm_head.b") ? G(head, "lm_head.b") : [], _dLogits, _lnf, bt, c, vp, _threads, accumulate: false);
        LayerNorm.Backward(_dLast, G(head, "lnf.w"), G(head, "lnf.b"), _dLnf, _last, Tensor(w, head, "lnf.w"), _lnfMean, _lnfRstd, bt, c, _threads,
            accumulateWeights: false, LayerNorm.InputGradient.Overwrite);
        Send(_layout.Segments.Count - 1, lastOfStep);
        return dwte;
    }

    private static ReadOnlySpan<float> Tensor(float[] w, Segment seg, string name) =>
        w.AsSpan((int)seg[name].Offset, (int)seg[name].Count);

    private Span<float> G(Segment seg, string name) => _grads.AsSpan((int)seg[name].Offset, (int)seg[name].Count);

    /// <summary>dwte, dwpe from d(block 0's input), which the last backward layer left in M.DOut (plus the head's part of
    /// dwte for a tied model).</summary>
    private void EmbeddingBackward(float[]? headPart, bool lastOfStep)
    {
        var embed = _layout.Embedding;
        var dx = _program.Read(M.DOut, _cfg.Channels);
        var g = _grads.AsSpan(0, (int)embed.Count);
        g.Clear();
        if (headPart is not null) headPart.CopyTo(G(embed, "wte"));
        Encoder.Backward(G(embed, "wte"), embed.Has("wpe") ? G(embed, "wpe") : [], dx, _inputs, Batch, SeqLen, _cfg.Channels);
        Send(0, lastOfStep);
    }

    private void BeginPass()
    {
        Fabric.LastPass.Clear();
        _passStartCycles = _program.Sim.Cycle;
        _passStartSteps = _program.Sim.PeSteps;
        _passStartWall = _program.Sim.WallSeconds;
    }

    /// <summary>Runs one layer's phases and records their cycles, busy PE-cycles, flops and edge values with the model's figure.</summary>
    private void Account(int layer, string direction, Action run)
    {
        var c0 = _program.Sim.Cycle;
        var (busy0, flops0, port0) = _program.Sim.Totals();
        run();
        var (busy1, flops1, port1) = _program.Sim.Totals();
        var model = direction == "forward" ? LayerCycleModel.Forward(_program.Sim.Config, _grid, _pace, _fp16) : LayerCycleModel.Backward(_program.Sim.Config, _grid, _pace, _fp16);
        Fabric.LastPass.Add(new FabricLayerTiming(layer, direction, _program.Sim.Cycle - c0, busy1 - busy0, flops1 - flops0, port1 - port0, model));
    }

    private void EndPass()
    {
        var cycles = _program.Sim.Cycle - _passStartCycles;
        var training = Fabric.LastPass.Any(t => t.Direction == "backward");
        var host = LayerCycleModel.HostSteps(_program.Sim.Config, _grid, _cfg.PaddedVocabSize, _pace, training);
        if (training)
        {
            Fabric.LastTrainingPass.Clear();
            Fabric.LastTrainingPass.AddRange(Fabric.LastPass);
        }
        Fabric.LastPassHostStepCycles = host;
        Fabric.LastPassCycles = cycles + host;
        Fabric.LastPassModelCycles = Fabric.LastPass.Sum(t => t.ModelCycles) + host;
        Fabric.TotalCycles += cycles + host;
        Fabric.TotalPeSteps += _program.Sim.PeSteps - _passStartSteps;
        Fabric.TotalHostSeconds += _program.Sim.WallSeconds - _passStartWall;
        Fabric.Passes++;
    }
}

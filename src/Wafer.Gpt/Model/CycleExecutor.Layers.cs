// A block's weights from its MemoryX segment into the layer program's shapes, and its gradients back into the
// segment's layout (tensor names are ParameterLayout's).
using Wafer.Core;
using Wafer.Kernels.Transformer;

namespace Wafer.Gpt.Model;

public sealed partial class CycleExecutor
{
    private LayerMemory M => _program.Memory;

    private BlockWeights BlockWeightsOf(int layer, float[] w)
    {
        var seg = _layout.Block(layer);
        float[] T(string name) => seg.Has(name) ? w.AsSpan((int)seg[name].Offset, (int)seg[name].Count).ToArray() : [];
        return new BlockWeights(T("ln1.w"), T("ln1.b"), T("qkv.w"), T("qkv.b"), T("attproj.w"), T("attproj.b"),
            T("ln2.w"), T("ln2.b"), T("fc.w"), T("fc.b"), T("fcproj.w"), T("fcproj.b"));
    }

    private void ForwardLayer(int l, float[] w) => _schedule.Forward(l, BlockWeightsOf(l, w));

    /// <summary>Block l's backward; its gradient into _grads in the segment's layout.</summary>
    private void BackwardLayer(int l, float[] w)
    {
        var seg = _layout.Block(l);
        var d = _schedule.Backward(l, BlockWeightsOf(l, w));
        foreach (var (name, values) in d.Named()) values.CopyTo(_grads, (int)seg[name].Offset);
    }
}

// Every program `wafer run` knows, by name.
using Wafer.Kernels.Proofs;

namespace Wafer.Kernels;

public static class DemoRegistry
{
    public static IReadOnlyList<IFabricDemo> All { get; } =
    [
        new Gemv2D("gemv-1pe", "GEMV y = Ax + b on one PE (@fmacs over columns of A)", 1, 1, 32, fixedOnePe: true),
        new Gemv2D("gemv-row", "GEMV on a row of PEs; partial sums passed east over a color chain", 4, 1, 16),
        new Gemv2D("gemv-grid", "GEMV on a W x H grid (default 4 x 3): blocks of A per PE, row reductions", 4, 3, 16),
        new Gemv2D("gemv", "GEMV over the whole program rectangle (the scaling benchmark; --wafer cs2 = 750 x 994)", int.MaxValue, int.MaxValue, 16),
        new Pipeline(),
        new RowBroadcast(),
        new ChainReduce(),
        new RowStream(),
        new TileMatvec(),
        new WeightStreaming.WeightStreamForward(),
        new WeightStreaming.WeightStreamForward(overlapped: true),
        new WeightStreaming.WeightStreamForward(fp16: true),
        new WeightStreaming.WeightStreamForward(overlapped: true, fp16: true),
        new WeightStreaming.WeightStreamSparse(),
        new WeightStreaming.WeightStreamInputGradient(),
        new WeightStreaming.WeightStreamInputGradient(fp16: true),
        new WeightStreaming.WeightStreamWeightGradient(),
        new WeightStreaming.WeightStreamWeightGradient(fp16: true),
        new Collectives.Broadcast2D(),
        new Collectives.AllReduce(),
        new Collectives.AllToAll(),
        new Collectives.AllToAll(columns: true),
        new Collectives.Fft3d(),
        new Stencil.Stencil25(),
        new Collectives.MeshGemv(),
        new Collectives.Summa(),
        new Layers.LayerNormRows(),
        new Layers.SoftmaxRows(),
        new Layers.Elementwise(gelu: true),
        new Layers.Elementwise(gelu: false),
        new Layers.CausalAttentionGrid(),
        new Collectives.LevelReduce("reduce-tree", "binary-tree row reduce: log2 W levels of pairs, sums at x = W-1 (rows in parallel)", Collectives.LevelPlan.Tree, false),
        new Collectives.LevelReduce("reduce-2phase", "two-phase row reduce: chains of ceil(sqrt W), then a chain of their leaders", Collectives.LevelPlan.TwoPhase, false),
        new Collectives.LevelReduce("reduce-ktree", "K-tree row reduce: K levels (--block, default 3) of ceil(W^(1/K))-member chains", Collectives.LevelPlan.KTree, false),
        new Transformer.TransformerLayerDemo(),
        new Transformer.TransformerLayerDemo(fp16: true),
        new Transformer.TransformerProductDemo(),
        new Collectives.LevelReduce("allreduce-ktree", "K-tree row allreduce (WaferLLM): K-tree reduce (--block K, default 2), then the root multicasts west", Collectives.LevelPlan.KTree, true),
    ];

    public static IFabricDemo? Find(string name) => All.FirstOrDefault(d => string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase));
}

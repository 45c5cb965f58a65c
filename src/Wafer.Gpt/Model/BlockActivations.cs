// What one transformer block keeps from its forward pass for the backward pass (and, as a second instance, the
// gradients of those tensors that backward passes through; the others are left empty there). Shapes for BT = B*T
// rows: C, F channels, NH heads.
namespace Wafer.Gpt.Model;

internal sealed class BlockActivations
{
    public readonly float[] Ln1, Ln1Mean, Ln1Rstd;           // (BT, C), (BT), (BT)
    public readonly float[] Ln2, Ln2Mean, Ln2Rstd;           // empty when one norm feeds both branches
    public readonly float[] Qkv;                             // (BT, 3C), q and k rotated when rotary
    public readonly float[] Atty;                            // (BT, C)
    public readonly float[] Att;                             // (B, NH, Tr, Tw): the softmax in attention's padded layout
    public readonly float[] AttProj;                         // (BT, C), with FcProj: parallel blocks' projection outputs
                                                             // (forward temporaries, one pair for all blocks; empty for
                                                             // sequential ones, which add residuals in the stores)
    public readonly float[] Residual2;                       // (BT, C): x + attention (sequential blocks only)
    public readonly float[] Fch, FchGelu;                    // (BT, F); after forward Fch holds gelu' of the fc output
                                                             // (gradients: d(fch) only)
    public readonly float[] FcProj;                          // (BT, C)
    public readonly float[] Output;                          // (BT, C): the block's residual output

    private readonly bool _ownsTemporaries;

    /// <summary>With <paramref name="shareTemporaries"/>, AttProj and FcProj are that block's: a parallel block's
    /// projection outputs are read only by the residual adds right after them, so one pair serves all blocks.</summary>
    public BlockActivations(GptConfig cfg, int b, int t, bool gradients = false, BlockActivations? shareTemporaries = null)
    {
        long bt = (long)b * t, c = cfg.Channels, f = cfg.FfnChannels;
        var fwd = gradients ? 0 : 1; // tensors only the forward pass keeps
        Ln1 = Make(bt * c); Ln1Mean = Make(fwd * bt); Ln1Rstd = Make(fwd * bt);
        var ln2 = cfg.SharedBlockNorm ? 0 : 1;
        Ln2 = Make(ln2 * bt * c); Ln2Mean = Make(fwd * ln2 * bt); Ln2Rstd = Make(fwd * ln2 * bt);
        Qkv = Make(bt * 3 * c);
        Atty = Make(bt * c);
        Att = Make(fwd * Layers.CausalAttention.AttLength(b, t, cfg.Heads));
        _ownsTemporaries = shareTemporaries is null;
        var parallel = cfg.ParallelResidual ? 1 : 0;
        AttProj = shareTemporaries?.AttProj ?? Make(parallel * fwd * bt * c);
        Residual2 = Make(cfg.ParallelResidual ? 0 : fwd * bt * c);
        Fch = Make(bt * f); FchGelu = Make(fwd * bt * f); // backward multiplies by GELU's slope as it stores d(fch)
        FcProj = shareTemporaries?.FcProj ?? Make(parallel * fwd * bt * c);
        Output = Make(fwd * bt * c);
    }

    private static float[] Make(long n) => n == 0 ? [] : new float[checked((int)n)];

    public long Bytes => 4L * All().Sum(a => (long)a.Length);

    private IEnumerable<float[]> All() =>
        [Ln1, Ln1Mean, Ln1Rstd, Ln2, Ln2Mean, Ln2Rstd, Qkv, Atty, Att, Residual2, Fch, FchGelu, Output, .. _ownsTemporaries ? [AttProj, FcProj] : Array.Empty<float[]>()];
}

// What one transformer block keeps from its forward pass for the backward pass (and, as a second instance, the
// gradients of those tensors that backward passes through; the others are left empty there). Shapes for BT = B*T
// rows: C, F channels, NH heads.
using Wafer.Core;

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
        var n = Lengths(cfg, b, t, gradients);
        Ln1 = Make(n[0]); Ln1Mean = Make(n[1]); Ln1Rstd = Make(n[2]);
        Ln2 = Make(n[3]); Ln2Mean = Make(n[4]); Ln2Rstd = Make(n[5]);
        Qkv = Make(n[6]);
        Atty = Make(n[7]);
        Att = Make(n[8]);
        _ownsTemporaries = shareTemporaries is null;
        Residual2 = Make(n[9]);
        Fch = Make(n[10]); FchGelu = Make(n[11]);
        Output = Make(n[12]);
        AttProj = shareTemporaries?.AttProj ?? Make(n[13]);
        FcProj = shareTemporaries?.FcProj ?? Make(n[14]);
    }

    /// <summary>The tensors' lengths in floats, in the order of the fields (AttProj and FcProj last): what the
    /// constructor allocates and what admission counts before anything is allocated.</summary>
    public static long[] Lengths(GptConfig cfg, int b, int t, bool gradients)
    {
        long bt = (long)b * t, c = cfg.Channels, f = cfg.FfnChannels;
        var fwd = gradients ? 0 : 1; // tensors only the forward pass keeps
        var ln2 = cfg.SharedBlockNorm ? 0 : 1;
        var parallel = cfg.ParallelResidual ? 1 : 0;
        return
        [
            bt * c, fwd * bt, fwd * bt,
            ln2 * bt * c, fwd * ln2 * bt, fwd * ln2 * bt,
            bt * 3 * c,
            bt * c,
            fwd * Layers.CausalAttention.AttLength(b, t, cfg.Heads),
            cfg.ParallelResidual ? 0 : fwd * bt * c,
            bt * f, fwd * bt * f, // backward multiplies by GELU's slope as it stores d(fch)
            fwd * bt * c,
            parallel * fwd * bt * c, parallel * fwd * bt * c,
        ];
    }

    /// <summary>Bytes of one block's tensors; the temporaries counted only by the block that owns them.</summary>
    public static long BytesFor(GptConfig cfg, int b, int t, bool gradients, bool ownsTemporaries)
    {
        var n = Lengths(cfg, b, t, gradients);
        return 4 * (n.Take(13).Sum() + (ownsTemporaries ? n[13] + n[14] : 0));
    }

    private static float[] Make(long n) => n == 0 ? [] : new float[checked((int)n)];

    public long Bytes => 4L * All().Sum(a => (long)a.Length);

    private IEnumerable<float[]> All() =>
        [Ln1, Ln1Mean, Ln1Rstd, Ln2, Ln2Mean, Ln2Rstd, Qkv, Atty, Att, Residual2, Fch, FchGelu, Output, .. _ownsTemporaries ? [AttProj, FcProj] : Array.Empty<float[]>()];
}

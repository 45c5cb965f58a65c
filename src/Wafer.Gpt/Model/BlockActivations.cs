// What one transformer block keeps from its forward pass for the backward pass (and, as a second instance, the
// gradients of the same tensors). Shapes for BT = B*T rows: C, F channels, NH heads.
namespace Wafer.Gpt.Model;

internal sealed class BlockActivations
{
    public readonly float[] Ln1, Ln1Mean, Ln1Rstd;           // (BT, C), (BT), (BT)
    public readonly float[] Ln2, Ln2Mean, Ln2Rstd;           // empty when one norm feeds both branches
    public readonly float[] Qkv;                             // (BT, 3C), q and k rotated when rotary
    public readonly float[] Atty;                            // (BT, C)
    public readonly float[] Att;                             // (B, NH, T, T): the softmax, zero above the diagonal
    public readonly float[] AttProj;                         // (BT, C)
    public readonly float[] Residual2;                       // (BT, C): x + attention (sequential blocks only)
    public readonly float[] Fch, FchGelu;                    // (BT, F)
    public readonly float[] FcProj;                          // (BT, C)
    public readonly float[] Output;                          // (BT, C): the block's residual output

    public BlockActivations(GptConfig cfg, int b, int t)
    {
        long bt = (long)b * t, c = cfg.Channels, f = cfg.FfnChannels;
        Ln1 = Make(bt * c); Ln1Mean = Make(bt); Ln1Rstd = Make(bt);
        var ln2 = !cfg.SharedBlockNorm;
        Ln2 = Make(ln2 ? bt * c : 0); Ln2Mean = Make(ln2 ? bt : 0); Ln2Rstd = Make(ln2 ? bt : 0);
        Qkv = Make(bt * 3 * c);
        Atty = Make(bt * c);
        Att = Make((long)b * cfg.Heads * t * t);
        AttProj = Make(bt * c);
        Residual2 = Make(cfg.ParallelResidual ? 0 : bt * c);
        Fch = Make(bt * f); FchGelu = Make(bt * f);
        FcProj = Make(bt * c);
        Output = Make(bt * c);
    }

    private static float[] Make(long n) => n == 0 ? [] : new float[checked((int)n)];

    public long Bytes => 4L * All().Sum(a => (long)a.Length);

    private IEnumerable<float[]> All() => [Ln1, Ln1Mean, Ln1Rstd, Ln2, Ln2Mean, Ln2Rstd, Qkv, Atty, Att, AttProj, Residual2, Fch, FchGelu, FcProj, Output];
}

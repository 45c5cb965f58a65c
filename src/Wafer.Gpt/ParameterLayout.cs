// The model's parameters as offsets into one float buffer, in llm.c's order (so checkpoints and tools agree).
namespace Wafer.Gpt;

public sealed class ParameterLayout
{
    public readonly long Wte, Wpe, Ln1W, Ln1B, QkvW, QkvB, AttProjW, AttProjB, Ln2W, Ln2B, FcW, FcB, FcProjW, FcProjB, LnfW, LnfB, Count;

    public ParameterLayout(GptConfig cfg)
    {
        long c = cfg.Channels, l = cfg.Layers, at = 0;
        long Take(long n) { var o = at; at += n; return o; }
        Wte = Take(cfg.PaddedVocabSize * c);
        Wpe = Take(cfg.MaxSeqLen * c);
        Ln1W = Take(l * c); Ln1B = Take(l * c);
        QkvW = Take(l * 3 * c * c); QkvB = Take(l * 3 * c);
        AttProjW = Take(l * c * c); AttProjB = Take(l * c);
        Ln2W = Take(l * c); Ln2B = Take(l * c);
        FcW = Take(l * 4 * c * c); FcB = Take(l * 4 * c);
        FcProjW = Take(l * 4 * c * c); FcProjB = Take(l * c);
        LnfW = Take(c); LnfB = Take(c);
        Count = at;
    }

    /// <summary>Parameters counting the real vocabulary only (padding rows excluded), as published counts do.</summary>
    public static long PublishedCount(GptConfig cfg) => new ParameterLayout(cfg).Count - (long)(cfg.PaddedVocabSize - cfg.VocabSize) * cfg.Channels;
}

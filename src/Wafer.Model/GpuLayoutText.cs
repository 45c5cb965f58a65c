// `wafer estimate --layout tp,pp,dp,mb[,zero]`: a Megatron layout written out (tensor-, pipeline- and data-parallel
// degrees, micro-batch in sequences, and "zero" for an optimizer sharded over the data-parallel ranks), checked against
// the model and the GPU count before anything is priced.
using Wafer.Core;

namespace Wafer.Model;

public static class GpuLayoutText
{
    /// <summary>The layout in `text` for this model, GPU count and global batch; a WaferInputException naming what is
    /// wrong otherwise.</summary>
    public static GpuLayout Parse(string text, GptConfig m, int gpus, long batch)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length is not (4 or 5))
            throw new WaferInputException($"--layout '{text}' must be tp,pp,dp,mb or tp,pp,dp,mb,zero (e.g. 8,2,32,1)");
        var names = new[] { "tensor-parallel degree", "pipeline-parallel degree", "data-parallel degree", "micro-batch" };
        var values = new int[4];
        for (var i = 0; i < 4; i++)
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out values[i]) || values[i] < 1)
                throw new WaferInputException($"--layout '{text}': the {names[i]} must be a whole number >= 1 (is '{parts[i]}')");
        if (parts.Length == 5 && parts[4] != "zero")
            throw new WaferInputException($"--layout '{text}': the fifth field may only be 'zero' (an optimizer sharded over the data-parallel ranks), not '{parts[4]}'");
        var (t, p, d, b) = (values[0], values[1], values[2], values[3]);
        if ((long)t * p * d != gpus)
            throw new WaferInputException($"--layout '{text}': TP {t} x PP {p} x DP {d} = {(long)t * p * d} GPUs, not --gpus {gpus}");
        if (m.Heads % t != 0) throw new WaferInputException($"--layout '{text}': TP {t} does not divide model {m.Name}'s {m.Heads} heads");
        if (m.Layers % p != 0) throw new WaferInputException($"--layout '{text}': PP {p} does not divide model {m.Name}'s {m.Layers} layers");
        if (d > batch) throw new WaferInputException($"--layout '{text}': DP {d} ranks for a batch of {batch} sequences");
        if ((long)d * b > batch) throw new WaferInputException($"--layout '{text}': DP {d} x micro-batch {b} exceeds the batch of {batch} sequences");
        return new GpuLayout(t, p, d, b, parts.Length == 5);
    }
}

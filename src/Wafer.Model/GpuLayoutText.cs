// `wafer estimate --layout tp,pp,dp,mb[,zero][,sp][,full|selective|none]`: a Megatron layout written out (tensor-,
// pipeline- and data-parallel degrees, micro-batch in sequences; "zero" for an optimizer sharded over the data-parallel
// ranks, "sp" for sequence parallelism, and what the backward recomputes, full by default as in SC21's runs), checked
// against the model and the GPU count before anything is priced.
using Wafer.Core;

namespace Wafer.Model;

public static class GpuLayoutText
{
    /// <summary>The layout in `text` for this model, GPU count and global batch; a WaferInputException naming what is
    /// wrong otherwise.</summary>
    public static GpuLayout Parse(string text, GptConfig m, int gpus, long batch)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length < 4 || parts.Length > 7)
            throw new WaferInputException($"--layout '{text}' must be tp,pp,dp,mb followed by any of zero, sp and one of full, selective, none (e.g. 8,2,32,1 or 8,2,32,1,sp,selective)");
        var names = new[] { "tensor-parallel degree", "pipeline-parallel degree", "data-parallel degree", "micro-batch" };
        var values = new int[4];
        for (var i = 0; i < 4; i++)
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out values[i]) || values[i] < 1)
                throw new WaferInputException($"--layout '{text}': the {names[i]} must be a whole number >= 1 (is '{parts[i]}')");
        bool zero = false, sp = false;
        ActivationRecompute? recompute = null;
        foreach (var flag in parts[4..])
        {
            var seen = flag switch
            {
                "zero" => Set(ref zero),
                "sp" => Set(ref sp),
                "full" or "selective" or "none" => recompute is null && (recompute = Enum.Parse<ActivationRecompute>(flag, ignoreCase: true)) is not null,
                _ => throw new WaferInputException($"--layout '{text}': '{flag}' is not a layout flag (zero: optimizer sharded over the data-parallel ranks; sp: sequence parallelism; full, selective or none: what the backward recomputes)"),
            };
            if (!seen) throw new WaferInputException($"--layout '{text}': '{flag}' is given twice, or two recompute choices are");
        }
        var (t, p, d, b) = (values[0], values[1], values[2], values[3]);
        if (sp && t == 1) throw new WaferInputException($"--layout '{text}': sequence parallelism splits over the tensor-parallel ranks; TP is 1");
        if ((long)t * p * d != gpus)
            throw new WaferInputException($"--layout '{text}': TP {t} x PP {p} x DP {d} = {(long)t * p * d} GPUs, not --gpus {gpus}");
        if (m.Heads % t != 0) throw new WaferInputException($"--layout '{text}': TP {t} does not divide model {m.Name}'s {m.Heads} heads");
        if (m.Layers % p != 0) throw new WaferInputException($"--layout '{text}': PP {p} does not divide model {m.Name}'s {m.Layers} layers");
        if (d > batch) throw new WaferInputException($"--layout '{text}': DP {d} ranks for a batch of {batch} sequences");
        if ((long)d * b > batch) throw new WaferInputException($"--layout '{text}': DP {d} x micro-batch {b} exceeds the batch of {batch} sequences");
        return new GpuLayout(t, p, d, b, zero, recompute ?? ActivationRecompute.Full, sp);
    }

    private static bool Set(ref bool flag)
    {
        if (flag) return false;
        flag = true;
        return true;
    }
}

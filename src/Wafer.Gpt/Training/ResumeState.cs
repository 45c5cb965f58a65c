// A checkpoint's metadata read as typed values, every one checked before it is trusted: the model, the tokenizer (its
// vocabulary must be the model's), the step and optimizer step, the sampler's state, the loss history (one finite loss
// per step), and the run's settings that change the math (batch, schedule, seed, precision, data), which a resume must
// keep unless told otherwise.
using Wafer.Core;
using System.Globalization;
using System.Text.Json;
using Wafer.Gpt.Data;

namespace Wafer.Gpt.Training;

public sealed record ResumeState(
    GptConfig Model, ITokenizer Tokenizer, int Step, long OptimizerStep, ulong SamplerState,
    List<double> StepLosses, List<EvalPoint> Evals, List<double> ReferenceLosses, IReadOnlyDictionary<string, string> Settings)
{
    /// <summary>The metadata keys of the run's settings (Trainer.Settings writes them).</summary>
    public static readonly string[] SettingKeys =
        ["batch", "seqLen", "microBatches", "learningRate", "minLearningRate", "warmupSteps", "decaySteps", "seed", "precision", "fidelity", "data"];

    public static ResumeState Read(string path) => Parse(path, Checkpoint.ReadMetadata(path));

    public static ResumeState Parse(string path, IReadOnlyDictionary<string, string> meta)
    {
        WaferInputException Bad(string why) => new($"checkpoint {path} is not usable: {why}");
        string Get(string key) => meta.TryGetValue(key, out var v) ? v : throw Bad($"its metadata lacks '{key}'");
        long Long(string key, long max)
        {
            var s = Get(key);
            return long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v <= max ? v : throw Bad($"metadata '{key}' is '{Clip(s)}', not a whole number in 0..{max}");
        }
        T Json<T>(string key)
        {
            try { return JsonSerializer.Deserialize<T>(Get(key)) ?? throw Bad($"metadata '{key}' is null"); }
            catch (JsonException e) { throw Bad($"metadata '{key}' is not a valid list ({e.Message.ReplaceLineEndings(" ")})"); }
        }

        var model = GptConfigJson.Parse(Get("model"), $"{path} (its model)");
        ITokenizer tokenizer;
        var description = Get("tokenizer");
        if (description.StartsWith(CharTokenizer.Prefix, StringComparison.Ordinal))
        {
            var chars = new CharTokenizer(description[CharTokenizer.Prefix.Length..]);
            if (chars.VocabSize != model.VocabSize) throw Bad($"its tokenizer has {chars.VocabSize} characters but its model a vocabulary of {model.VocabSize}");
            tokenizer = chars;
        }
        else if (description == Gpt2BpeTokenizer.Name)
        {
            if (model.VocabSize < 50257) throw Bad($"its tokenizer is GPT-2 BPE (50,257 tokens) but its model's vocabulary is {model.VocabSize}");
            tokenizer = new Gpt2BpeTokenizer();
        }
        else throw Bad($"its tokenizer '{Clip(description)}' is neither 'gpt2' nor 'char:<alphabet>'");

        var step = (int)Long("step", int.MaxValue);
        var optimizerStep = Long("optimizerStep", int.MaxValue);
        if (!ulong.TryParse(Get("samplerState"), NumberStyles.None, CultureInfo.InvariantCulture, out var samplerState)) throw Bad($"metadata 'samplerState' is '{Clip(Get("samplerState"))}', not a 64-bit state");
        var losses = Json<List<double>>("stepLosses");
        if (losses.Count != step) throw Bad($"it is at step {step} but holds {losses.Count} step losses");
        if (losses.Any(l => !double.IsFinite(l))) throw Bad("its step losses hold a value that is not finite");
        var evals = Json<List<EvalPoint>>("evals");
        if (evals.Any(e => e is null || e.Step < 0 || e.Step > step || !double.IsFinite(e.TrainLoss) || !double.IsFinite(e.ValLoss)))
            throw Bad("its evaluations hold a step outside 0..step or a loss that is not finite");
        var reference = meta.ContainsKey("referenceStepLosses") ? Json<List<double>>("referenceStepLosses") : [];
        if (reference.Count != 0 && reference.Count != step) throw Bad($"it is at step {step} but holds {reference.Count} reference step losses");
        var settings = SettingKeys.Where(meta.ContainsKey).ToDictionary(k => k, k => meta[k]);
        return new ResumeState(model, tokenizer, step, optimizerStep, samplerState, losses, evals, reference, settings);
    }

    private static string Clip(string s) => s.Length > 40 ? s[..40] + "..." : s;
}

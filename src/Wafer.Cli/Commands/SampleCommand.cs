// `wafer sample`: generates text from a checkpoint written by `wafer train`.
using Wafer.Core;
using System.CommandLine;
using System.Globalization;
using Wafer.Fabric;
using Wafer.Gpt;
using Wafer.Gpt.Data;
using Wafer.Gpt.MemoryX;
using Wafer.Gpt.Model;
using Wafer.Gpt.Training;

namespace Wafer.Cli.Commands;

internal static class SampleCommand
{
    public static Command Create(TextWriter stdout)
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint written by wafer train", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "Text to continue", DefaultValueFactory = _ => "\n" };
        var tokens = new Option<int>("--tokens") { Description = "Tokens to generate", DefaultValueFactory = _ => 300 };
        var temperature = new Option<float>("--temperature") { Description = "Softmax temperature (> 0; lower is more conservative)", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely tokens (0 = all)", DefaultValueFactory = _ => 200 };
        var seed = new Option<int>("--seed") { Description = "Seed of the draws", DefaultValueFactory = _ => 1337 };
        var cmd = new Command("sample", "Generate text from a trained checkpoint") { checkpoint, prompt, tokens, temperature, topK, seed };
        cmd.SetAction(parse =>
        {
            var path = parse.GetValue(checkpoint)!;
            var n = parse.GetValue(tokens);
            if (n < 1) throw new WaferInputException($"--tokens must be >= 1 (is {n})");
            var temp = parse.GetValue(temperature);
            if (!(temp > 0) || temp > 1e6f) throw new WaferInputException($"--temperature must be in (0, 1e6] (is {temp})");
            var k = parse.GetValue(topK);
            if (k < 0) throw new WaferInputException($"--top-k must be >= 0 (is {k})");
            var state = ResumeState.Read(path);
            var cfg = state.Model;
            var tokenizer = state.Tokenizer;
            var layout = new ParameterLayout(cfg);
            // The sampler's context is the run's sequence length where the checkpoint says it, else the model's maximum.
            var seqLen = state.Settings.TryGetValue("seqLen", out var s) && int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var t) && t >= 1
                ? Math.Min(cfg.MaxSeqLen, t) : cfg.MaxSeqLen;
            var (device, longest) = GptExecutor.Plan(layout, 1, seqLen, StreamPrecision.Fp32);
            if (layout.LargestSegment > Array.MaxLength || longest > Array.MaxLength)
                throw new WaferInputException($"checkpoint {path}: model {cfg.Name} has a tensor larger than one buffer holds ({Array.MaxLength:N0} values)");
            HostMemory.Require(16.0 * layout.Count + device, $"sampling from {cfg.Name} ({layout.Count:N0} parameters)", "weights and AdamW moments as loaded, and the device's buffers", "");
            using var store = new WeightStore(layout, new InMemoryStorage(layout), new OptimizerConfig(), Environment.ProcessorCount);
            Checkpoint.Load(path, store, state.OptimizerStep);
            var text = parse.GetValue(prompt)!;
            var ids = tokenizer is CharTokenizer chars ? chars.EncodeKnown(text) : tokenizer.Encode(text);
            var executor = new GptExecutor(store, 1, seqLen, StreamPrecision.Fp32, new HostSchedule());
            var generated = new Sampler(executor, (ulong)parse.GetValue(seed)).Generate(ids, n, temp, k);
            stdout.Write(text);
            stdout.WriteLine(tokenizer.Decode(generated));
            return Program.ExitOk;
        });
        return cmd;
    }
}

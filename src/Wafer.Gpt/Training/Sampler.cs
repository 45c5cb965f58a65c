// Autoregressive text generation from a trained model: a window of the last T tokens, softmax with temperature,
// top-k filtering, one seeded draw per token.
using Wafer.Core;
using Wafer.Gpt.Model;

namespace Wafer.Gpt.Training;

public sealed class Sampler(IGptExecutor executor, ulong seed)
{
    private SplitMix64 _rng = new(seed);

    public List<int> Generate(IReadOnlyList<int> prompt, int tokens, float temperature, int topK)
    {
        if (executor.Batch != 1) throw new ArgumentException("the sampler needs an executor of batch 1");
        if (temperature <= 0) throw new WaferInputException($"--temperature must be > 0 (is {temperature})");
        var t = executor.SeqLen;
        var context = new List<int>(prompt.Count == 0 ? [0] : prompt);
        var generated = new List<int>();
        var window = new int[t];
        for (var n = 0; n < tokens; n++)
        {
            var start = Math.Max(0, context.Count - t);
            var len = context.Count - start;
            Array.Clear(window);
            for (var i = 0; i < len; i++) window[i] = context[start + i]; // later positions cannot affect position len-1
            executor.Forward(window, null);
            var next = Draw(executor.Probabilities(0, len - 1), temperature, topK);
            context.Add(next);
            generated.Add(next);
        }
        return generated;
    }

    private int Draw(ReadOnlySpan<float> probs, float temperature, int topK)
    {
        // Back to logits (log p), scaled by 1/temperature, keep the top k, renormalise.
        var v = probs.Length;
        var logits = new double[v];
        for (var i = 0; i < v; i++) logits[i] = Math.Log(Math.Max(probs[i], 1e-30)) / temperature;
        if (topK > 0 && topK < v)
        {
            var kth = logits.OrderByDescending(x => x).ElementAt(topK - 1);
            for (var i = 0; i < v; i++) if (logits[i] < kth) logits[i] = double.NegativeInfinity;
        }
        var max = logits.Max();
        double sum = 0;
        for (var i = 0; i < v; i++) { logits[i] = Math.Exp(logits[i] - max); sum += logits[i]; }
        var r = _rng.NextDouble() * sum;
        for (var i = 0; i < v; i++)
        {
            r -= logits[i];
            if (r < 0) return i;
        }
        return Array.FindLastIndex(logits, x => x > 0);
    }
}

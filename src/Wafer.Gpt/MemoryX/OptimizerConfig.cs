// AdamW (Loshchilov & Hutter) hyperparameters as MemoryX applies them; defaults are nanoGPT's Shakespeare recipe.
namespace Wafer.Gpt.MemoryX;

public sealed record OptimizerConfig
{
    /// <summary>First-moment decay, e.g. 0.9.</summary>
    public float Beta1 { get; init; } = 0.9f;
    /// <summary>Second-moment decay, e.g. 0.99 (nanoGPT's small-data recipe).</summary>
    public float Beta2 { get; init; } = 0.99f;
    public float Epsilon { get; init; } = 1e-8f;
    /// <summary>Decoupled weight decay on 2-D tensors only (matrices, embeddings), e.g. 0.1.</summary>
    public float WeightDecay { get; init; } = 0.1f;
    /// <summary>Global gradient-norm clip, e.g. 1.0; 0 disables clipping.</summary>
    public float ClipNorm { get; init; } = 1.0f;
}

// What a device asks of MemoryX over its link (docs/design.md §2.6): a segment's weights, and its gradients back. Two
// ends serve it: WeightStore, MemoryX itself in this process, and SwarmX's system end (Wafer.Swarm), which receives
// the weights from the broadcast tree and sends the gradients into the reduce tree.
using Wafer.Core;

namespace Wafer.Gpt.MemoryX;

/// <summary>Contract: Fetch returns segment s's current weights in the first Count floats (buffer, written, or, where
/// IsInMemory, MemoryX's own array: read only); a caller fetches and sends segments in an order that every device of a
/// data-parallel job repeats. A gradient is sent whole (AccumulateGradient) or in chunks (BeginGradient, then
/// AccumulateGradientChunk for each chunk on any threads, then EndGradient); lastOfStep marks a segment's last term of
/// the optimizer step. gradient + second (second empty: none) is the term, rounded once to fp32.</summary>
public interface IMemoryXLink
{
    ParameterLayout Layout { get; }
    /// <summary>True when Fetch returns MemoryX's own arrays (nothing to prefetch, nothing copied).</summary>
    bool IsInMemory { get; }
    float[] Fetch(int s, float[] buffer);
    void AccumulateGradient(int s, ReadOnlySpan<float> gradient, ReadOnlySpan<float> second, bool lastOfStep);
    void AccumulateGradient(int s, ReadOnlySpan<float> gradient, bool lastOfStep) => AccumulateGradient(s, gradient, [], lastOfStep);
    int BeginGradient(int s, bool lastOfStep);
    void AccumulateGradientChunk(int s, int i, ReadOnlySpan<float> gradient, ReadOnlySpan<float> second);
    void EndGradient(int s);
}

// Where a training step's micro-batches and an evaluation's batches run: one executor in this process (LocalPasses),
// or SwarmX's N systems in other processes (Wafer.Swarm), which take the batches in rounds of N. Either way each batch's
// loss comes back in batch order and each training batch's gradient reaches this process's MemoryX.
using Wafer.Gpt.Model;

namespace Wafer.Gpt.Training;

/// <summary>One batch of B x T tokens and its targets.</summary>
public readonly record struct TokenBatch(int[] Inputs, int[] Targets);

/// <summary>What one training pass reports: its mean loss, and on the simulated wafer its cycles and the layer model's.</summary>
public readonly record struct PassResult(float Loss, long Cycles, long ModelCycles);

/// <summary>Contract: Train runs one optimizer step's micro-batches (the last one ends the step: every segment's last
/// gradient term of the step has reached MemoryX when it returns) and Forward evaluates batches; both return one result
/// per batch, in batch order, the same bits whichever runner computed them.</summary>
public interface IPassRunner
{
    PassResult[] Train(IReadOnlyList<TokenBatch> batches);
    float[] Forward(IReadOnlyList<TokenBatch> batches);
    /// <summary>Weight and gradient bytes moved since the start (over MemoryX's link; for SwarmX, every rank's sends).</summary>
    long BytesStreamed { get; }
    /// <summary>What one device holds at its peak.</summary>
    long DeviceBytes { get; }
    /// <summary>The simulated wafer's account (null where nothing is simulated, or it runs in another process).</summary>
    FabricAccount? Fabric { get; }
}

/// <summary>The batches on one executor here, one after the other.</summary>
public sealed class LocalPasses(IGptExecutor executor) : IPassRunner
{
    public PassResult[] Train(IReadOnlyList<TokenBatch> batches)
    {
        var results = new PassResult[batches.Count];
        for (var i = 0; i < batches.Count; i++)
        {
            var loss = executor.TrainPass(batches[i].Inputs, batches[i].Targets, lastPassOfStep: i == batches.Count - 1);
            results[i] = executor.Fabric is { } f ? new PassResult(loss, f.LastPassCycles, f.LastPassModelCycles) : new PassResult(loss, 0, 0);
        }
        return results;
    }

    public float[] Forward(IReadOnlyList<TokenBatch> batches) => batches.Select(b => executor.Forward(b.Inputs, b.Targets)).ToArray();
    public long BytesStreamed => executor.BytesStreamed;
    public long DeviceBytes => executor.DeviceBytes;
    public FabricAccount? Fabric => executor.Fabric;
}

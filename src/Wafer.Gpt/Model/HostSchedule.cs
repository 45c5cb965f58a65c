// How the fast executor runs on the host, passed in at construction: the thread count for each product and layer, and
// whether a batch of two shards may run one shard per thread (GptExecutor.cs's header). None of it changes a result:
// every part of a parallel job writes its own outputs in a fixed order (tests compare the schedules bit for bit).
namespace Wafer.Gpt.Model;

public sealed record HostSchedule
{
    /// <summary>Threads for each product, layer and optimizer chunk set, e.g. 2 on a 2-core host.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>With two shards and two threads: run the shards one per thread (free-running when the weights are
    /// MemoryX's own fp32 arrays, FreeRunningShards), rather than one after the other with each operation split over the
    /// threads (the lockstep reference path).</summary>
    public bool ConcurrentShards { get; init; } = true;

    /// <summary>Tests only: called as (shard, stage) when a free-running shard starts a stage (e.g. to hold one back).</summary>
    internal Action<int, int>? StageStart { get; init; }
}

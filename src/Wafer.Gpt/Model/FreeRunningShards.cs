// The fast executor's optional schedule for a batch of two shards on two threads, when MemoryX hands out its own fp32
// arrays (GptExecutor.cs's header): both shards run free over a pass's stages, one per core, with no join per segment.
// A stage's weights are fetched by the shard that starts the stage before it first. The shard that finishes a
// backward stage second publishes its reduction as chunk tasks and goes on; the other shard takes them at its next
// stage boundary (the early shard does the hand-off, not the late one: the late one doing every reduction fell further
// behind at each). A shard starting stage i first needs stage i-2 finished by both and reduced (its gradient buffers
// are stage i's), helping with it if need be, and at the end both take what is left. While a shard waits it runs parts
// of the other's parallel jobs (HelpBoard). The arithmetic is the lockstep path's: only the order in time differs.
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Model;

internal sealed class FreeRunningShards(GptExecutor executor, int maxStages, Action<int, int>? stageStart)
{
    private readonly SegmentFlags _flags = new(maxStages);
    private readonly HelpBoard _board = new();

    /// <summary>Parts of one shard's jobs that the other ran while waiting, over every pass (a diagnostic for tests).</summary>
    public long PartsHelped => _board.PartsHelped;

    /// <summary>Runs the stages on both shards (two threads), each backward stage's reduction handed off as above.</summary>
    public void Run(GptExecutor.Stage[] stages)
    {
        _flags.Reset();
        Action<int, int> task = (i, k) => executor.RunReductionTask(stages[i].Segment, k);
        Action<int> end = i => executor.EndReduction(stages[i].Segment);
        WorkerPool.Run(2, 2, shard =>
        {
            using var helping = _board.Attach(shard);
            try
            {
                for (var i = 0; i < stages.Length; i++)
                {
                    stageStart?.Invoke(shard, i);
                    var stage = stages[i];
                    var w = _flags.Weights(i, () => executor.Arrive(stage.Segment, executor.WeightBuffer(i)));
                    if (i + 1 < stages.Length)
                    {
                        var next = stages[i + 1].Segment;
                        _flags.Claim(i + 1, () => executor.Arrive(next, executor.WeightBuffer(i + 1)));
                    }
                    if (i >= 2) _flags.AwaitReduced(i - 2, task, end);
                    executor.RunStage(shard, stage, w);
                    var published = -1;
                    if (_flags.FinishIsLast(i))
                    {
                        _flags.Publish(i, stage.Backward ? executor.BeginReduction(stage.Segment) : 0);
                        published = i;
                    }
                    for (var j = 0; j <= i; j++)
                        if (j != published) _flags.Help(j, task, end);
                }
                for (var j = 0; j < stages.Length; j++) _flags.AwaitReduced(j, task, end);
            }
            catch
            {
                _flags.Fail();
                throw;
            }
        });
    }
}

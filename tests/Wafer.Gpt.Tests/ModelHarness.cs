// Builds a model (store + executor) for tests and reads or perturbs single parameters by global index.
using Wafer.Core;
using Wafer.Gpt.MemoryX;
using Wafer.Gpt.Model;

namespace Wafer.Gpt.Tests;

internal sealed class ModelHarness : IDisposable
{
    public readonly ParameterLayout Layout;
    public readonly WeightStore Store;
    public readonly GptExecutor Executor;

    public ModelHarness(GptConfig cfg, int b, int t, int seed, OptimizerConfig? opt = null, ISegmentStorage? storage = null,
        StreamPrecision precision = StreamPrecision.Fp32, HostSchedule? host = null)
    {
        Layout = new ParameterLayout(cfg);
        host ??= new HostSchedule { Threads = 2 };
        Store = new WeightStore(Layout, storage ?? new InMemoryStorage(Layout), opt ?? new OptimizerConfig(), host.Threads);
        Store.Initialise(seed);
        Executor = new GptExecutor(Store, b, t, precision, host);
    }

    public (int Segment, long Offset) Locate(long index)
    {
        for (var s = 0; s < Layout.Segments.Count; s++)
        {
            if (index < Layout.Segments[s].Count) return (s, index);
            index -= Layout.Segments[s].Count;
        }
        throw new ArgumentOutOfRangeException(nameof(index));
    }

    public float Get(long index, StateKind kind = StateKind.Weights)
    {
        var (s, o) = Locate(index);
        var one = new float[1];
        Store.ReadState(s, kind, o, one);
        return one[0];
    }

    public void Set(long index, float value)
    {
        var (s, o) = Locate(index);
        Store.WriteState(s, StateKind.Weights, o, [value]);
    }

    public float[] All(StateKind kind)
    {
        var all = new List<float>();
        for (var s = 0; s < Layout.Segments.Count; s++)
        {
            var a = new float[Layout.Segments[s].Count];
            Store.ReadState(s, kind, 0, a);
            all.AddRange(a);
        }
        return all.ToArray();
    }

    /// <summary>Global index of element i of a tensor in a segment.</summary>
    public long IndexOf(string segment, string tensor, long i)
    {
        long at = 0;
        foreach (var s in Layout.Segments)
        {
            if (s.Name == segment) return at + s[tensor].Offset + i;
            at += s.Count;
        }
        throw new KeyNotFoundException(segment);
    }

    public void Dispose() => Store.Dispose();
}

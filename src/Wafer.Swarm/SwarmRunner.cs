// MemoryX's side of SwarmX (rank 0): the trainer's pass runner when the passes run on N systems. A step's M
// micro-batches go out in M / N rounds, batch r N + k - 1 to system k in round r; while a round runs, rank 0 serves its
// children's segment requests from the WeightStore (applying a deferred update on its first fetch, as in one process)
// and adds the partial sums they send up into the store's exact accumulator; every system's loss comes back to it.
// The step's last term of a segment is the one that completes the last round's sums of all of rank 0's children.
using Wafer.Gpt.MemoryX;
using Wafer.Gpt.Model;
using Wafer.Gpt.Training;

namespace Wafer.Swarm;

internal sealed class SwarmRunner : IPassRunner
{
    public const int CommandEnd = 0, CommandTrain = 1, CommandForward = 2;

    private readonly Wire _wire;
    private readonly SwarmTree _tree;
    private readonly WeightStore _store;
    private readonly int[] _rootChildren;
    private readonly float[] _weights, _floats;
    private readonly Int128[] _sums;
    private readonly int[] _lastTerms;
    private readonly long[] _systemBytes, _systemMessages;
    private bool _ended;

    public long DeviceBytes { get; }
    /// <summary>At cycle fidelity, system 1's account of its simulated wafer as of its last pass (every system runs the
    /// same shapes; their cycles differ by a few parts per million with their batches' data). The passes' own cycles
    /// come with every system's result.</summary>
    public FabricAccount? Fabric { get; private set; }
    private readonly bool _cycle;

    internal static readonly System.Text.Json.JsonSerializerOptions AccountJson = new()
    {
        PreferredObjectCreationHandling = System.Text.Json.Serialization.JsonObjectCreationHandling.Populate,
    };
    /// <summary>Bytes every rank has sent (rank 0's, and each system's as of its last result).</summary>
    public long BytesStreamed => _wire.BytesSent + _systemBytes.Sum();
    /// <summary>What moved in training steps (Train calls) and in evaluations, counted apart.</summary>
    public Traffic Training { get; } = new();
    public Traffic Evaluation { get; } = new();

    /// <summary>Bytes and messages of one kind of round: sent by every rank, and MemoryX's own weights out and gradients in.</summary>
    public sealed class Traffic
    {
        public int Calls { get; set; }
        public int Rounds { get; set; }
        public long Bytes { get; set; }
        public long Messages { get; set; }
        public long MemoryXWeightBytesOut { get; set; }
        public long MemoryXGradientBytesIn { get; set; }
        public long MemoryXGradientMessagesIn { get; set; }
        /// <summary>Seconds summed over the systems: their passes, and of that their link's weights in and gradients out.</summary>
        public double PassSeconds { get; set; }
        public double FetchSeconds { get; set; }
        public double SendSeconds { get; set; }
    }

    public SwarmRunner(Wire wire, SwarmTree tree, WeightStore store, long deviceBytes, bool cycle)
    {
        _cycle = cycle;
        _wire = wire;
        _tree = tree;
        _store = store;
        DeviceBytes = deviceBytes;
        _rootChildren = tree.Children(0);
        var largest = checked((int)store.Layout.LargestSegment);
        _weights = new float[largest];
        _floats = new float[largest];
        _sums = new Int128[largest];
        _lastTerms = new int[store.Layout.Segments.Count];
        _systemBytes = new long[tree.Systems + 1];
        _systemMessages = new long[tree.Systems + 1];
    }

    public PassResult[] Train(IReadOnlyList<TokenBatch> batches)
    {
        var n = _tree.Systems;
        if (batches.Count % n != 0)
            throw new Wafer.Core.WaferInputException($"--micro-batches {batches.Count} does not divide among {n} systems: give a multiple of {n}");
        var results = new PassResult[batches.Count];
        Array.Clear(_lastTerms);
        var rounds = batches.Count / n;
        Training.Calls++;
        for (var r = 0; r < rounds; r++)
        {
            for (var k = 1; k <= n; k++)
            {
                var pass = r * n + k - 1;
                SendCommand(k, CommandTrain, last: r == rounds - 1, pass, batches[pass]);
            }
            Serve(n, results, Training);
        }
        return results;
    }

    public float[] Forward(IReadOnlyList<TokenBatch> batches)
    {
        // Every system takes part in every round (the weights pass through the inner systems to the leaves): in a last
        // round with fewer batches than systems, the spare systems evaluate its first batch again, and that loss is
        // dropped.
        var n = _tree.Systems;
        var results = new PassResult[batches.Count];
        var spare = new PassResult[n];
        Evaluation.Calls++;
        for (var first = 0; first < batches.Count; first += n)
        {
            for (var k = 1; k <= n; k++)
            {
                var pass = first + k - 1;
                SendCommand(k, CommandForward, last: false, pass < batches.Count ? pass : -k, batches[pass < batches.Count ? pass : first]);
            }
            Serve(n, results, Evaluation, spare);
        }
        return results.Select(r => r.Loss).ToArray();
    }

    private void SendCommand(int system, int kind, bool last, int pass, TokenBatch batch)
    {
        var t = batch.Inputs.Length;
        var message = new int[4 + 2 * t];
        message[0] = kind;
        message[1] = last ? 1 : 0;
        message[2] = pass;
        message[3] = t;
        batch.Inputs.CopyTo(message, 4);
        batch.Targets.CopyTo(message, 4 + t);
        _wire.Send<int>(system, Wire.TagCommand, message);
    }

    /// <summary>Serves one round until every system's result is in: results[pass] (a negative pass -k: spare[k - 1]).</summary>
    private void Serve(int expected, PassResult[] results, Traffic traffic, PassResult[]? spare = null)
    {
        traffic.Rounds++;
        long sentBefore = _wire.BytesSent, messagesBefore = _wire.MessagesSent;
        Span<int> request = stackalloc int[1];
        Span<int> header = stackalloc int[4];
        Span<long> result = stackalloc long[9];
        ReadOnlySpan<int> tags = [Wire.TagRequest, Wire.TagGradient, Wire.TagResult];
        var received = 0;
        while (received < expected)
        {
            var (source, tag) = _wire.Probe(tags);
            switch (tag)
            {
                case Wire.TagRequest:
                {
                    _wire.Receive(source, Wire.TagRequest, request);
                    var s = request[0];
                    var count = (int)_store.Layout.Segments[s].Count;
                    var w = _store.Fetch(s, _weights);
                    _wire.Send<float>(source, Wire.TagWeights, w.AsSpan(0, count));
                    traffic.MemoryXWeightBytesOut += 4L * count;
                    break;
                }
                case Wire.TagGradient:
                {
                    _wire.Receive(source, Wire.TagGradient, header);
                    var s = header[0];
                    var count = (int)_store.Layout.Segments[s].Count;
                    if (header[3] != count) throw new SwarmFailure($"system rank {source} sent {header[3]} gradients of segment {s}, which has {count}");
                    var last = header[1] == 1 && ++_lastTerms[s] == _rootChildren.Length;
                    traffic.MemoryXGradientBytesIn += (header[2] == SystemLink.Floats ? 4L : 16L) * count;
                    traffic.MemoryXGradientMessagesIn += 1 + (count + Wire.PieceValues - 1) / Wire.PieceValues;
                    if (header[2] == SystemLink.Floats)
                    {
                        _wire.Receive(source, Wire.TagGradient, _floats.AsSpan(0, count));
                        _store.AccumulateGradient(s, _floats.AsSpan(0, count), [], last);
                    }
                    else
                    {
                        _wire.Receive(source, Wire.TagGradient, _sums.AsSpan(0, count));
                        _store.AccumulateSums(s, _sums.AsSpan(0, count), last);
                    }
                    break;
                }
                default:
                {
                    _wire.Receive(source, Wire.TagResult, result);
                    var pass = (int)result[0];
                    var r = new PassResult(BitConverter.Int32BitsToSingle((int)result[1]), result[2], result[3]);
                    if (pass >= 0) results[pass] = r;
                    else spare![-pass - 1] = r;
                    traffic.PassSeconds += result[6] / (double)global::System.Diagnostics.Stopwatch.Frequency;
                    traffic.FetchSeconds += result[7] / (double)global::System.Diagnostics.Stopwatch.Frequency;
                    traffic.SendSeconds += result[8] / (double)global::System.Diagnostics.Stopwatch.Frequency;
                    traffic.Bytes += result[4] - _systemBytes[source];
                    traffic.Messages += result[5] - _systemMessages[source];
                    _systemBytes[source] = result[4];
                    _systemMessages[source] = result[5];
                    if (_cycle && source == 1)
                        Fabric = System.Text.Json.JsonSerializer.Deserialize<FabricAccount>(_wire.ReceiveBlob(1, Wire.TagResult), AccountJson);
                    received++;
                    break;
                }
            }
        }
        traffic.Bytes += _wire.BytesSent - sentBefore;
        traffic.Messages += _wire.MessagesSent - messagesBefore;
    }

    /// <summary>Tells every system the job is over (once).</summary>
    public void End()
    {
        if (_ended) return;
        _ended = true;
        for (var k = 1; k <= _tree.Systems; k++) _wire.Send<int>(k, Wire.TagCommand, [CommandEnd, 0, 0, 0]);
    }
}

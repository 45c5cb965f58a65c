// The transformer layer program's fabric: the region's routes (LayerColors), one code object per kind of PE, all
// bound to one task that runs the current phase, and the host driver that launches phases one after another on a
// simulator that lives as long as the program (activations stay in SRAM between phases and layers).
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Transformer;

public sealed class LayerProgram
{
    public const int PhaseTask = 10;
    public const string Arena = "arena";

    private LayerPhase? _current;
    private readonly Action<TaskContext> _run;

    public LayerGrid Grid { get; }
    public LayerMemory Memory { get; }
    public Simulator Sim { get; }
    /// <summary>Cycles of every phase run so far, in order (name, cycles).</summary>
    public List<(string Phase, long Cycles)> Log { get; } = [];

    public LayerProgram(WaferConfig wafer, LayerGrid grid, int layers, SimulatorOptions? options = null)
    {
        grid.Check();
        if (grid.Columns > wafer.WidthPes || grid.FabricRows > wafer.HeightPes)
            throw new WaferInputException($"layer region {grid.Rows} rows x {grid.Columns} columns (+ the edge row) does not fit the {wafer.WidthPes} x {wafer.HeightPes} '{wafer.Name}' wafer");
        Grid = grid;
        Memory = new LayerMemory(grid, layers);
        Memory.Check(grid, wafer.UsableSramBytesPerPe, layers);
        _run = ctx => _current!.Start(ctx);
        var layout = new FabricLayout(grid.Columns, grid.FabricRows);
        LayerColors.Routes(layout, grid);
        var edge = new PeCode("layer-edge").OutputQueue(LayerColors.EdgeWeightsOut, LayerColors.Weights)
            .InputQueue(LayerColors.EdgeNorthIn, LayerColors.NorthColor(1)).LocalTask(PhaseTask, _run);
        var workers = new Dictionary<(bool, bool, int, bool, int), PeCode>();
        layout.SetCode((x, y) =>
        {
            if (y == 0) return edge;
            var key = (x == 0, x == grid.Columns - 1, x & 1, y == grid.Rows, y & 1);
            if (workers.TryGetValue(key, out var code)) return code;
            code = new PeCode($"layer-worker-{workers.Count}").Symbol(Arena, Memory.Bytes).LocalTask(PhaseTask, _run);
            LayerColors.WorkerQueues(code, grid, x, y);
            return workers[key] = code;
        });
        Sim = new Simulator(wafer, layout, options);
        // The causal mask of a row's own keys ([key][query], 0 where the query may see the key, -1e30 where not) and
        // the row of ones under each weight-gradient input: constants the host writes once.
        var mask = new float[grid.N * grid.N];
        for (var key = 0; key < grid.N; key++)
            for (var q = 0; q < grid.N; q++)
                mask[key * grid.N + q] = key <= q && key / grid.Shape.SeqLen == q / grid.Shape.SeqLen ? 0f : MaskedScore;
        var ones = Enumerable.Repeat(1f, grid.N).ToArray();
        // Two fp16 ones (0x3C00) in each 32-bit word.
        var halfOnes = Enumerable.Repeat(BitConverter.Int32BitsToSingle(0x3C003C00), Memory.Ones16.Floats).ToArray();
        ForEachWorker((x, y) =>
        {
            Sim.Host.WriteAt(Arena, x, y, Memory.Mask.Address, mask);
            foreach (var b in new[] { Memory.Ln1, Memory.Att, Memory.Ln2 }) Sim.Host.WriteAt(Arena, x, y, b.Address + 4 * grid.K * grid.N, ones);
            Sim.Host.WriteAt(Arena, x, y, Memory.Gelu.Address + 4 * grid.Kf * grid.N, ones);
            Sim.Host.WriteAt(Arena, x, y, Memory.Ones16.Address, halfOnes);
        });
        // Rotary tables: column x's pairs, cos and sin of t 10000^(-2i/D) at each of the row's token positions.
        if (grid.Shape.RotaryDims > 0)
            for (var x = 0; x < grid.Columns; x++)
            {
                var pairs = grid.RotaryPairs(x);
                var table = new float[Memory.Rotary.Floats];
                for (var y = 1; y <= grid.Rows; y++)
                {
                    for (var p = 0; p < pairs.Count; p++)
                        for (var t = 0; t < grid.N; t++)
                        {
                            var position = ((y - 1) * grid.N + t) % grid.Shape.SeqLen;
                            var angle = position * Math.Pow(10000.0, -2.0 * pairs[p].Frequency / grid.Shape.RotaryDims);
                            table[2 * p * grid.N + t] = (float)Math.Cos(angle);
                            table[(2 * p + 1) * grid.N + t] = (float)Math.Sin(angle);
                        }
                    Sim.Host.WriteAt(Arena, x, y, Memory.Rotary.Address, table);
                }
            }
        Sim.Host.EndBatch();
    }

    /// <summary>What a masked score becomes: far below any real score, so its exponential is 0 in fp32.</summary>
    public const float MaskedScore = -1e30f;

    public void ForEachWorker(Action<int, int> action)
    {
        for (var y = 1; y <= Grid.Rows; y++)
            for (var x = 0; x < Grid.Columns; x++) action(x, y);
    }

    /// <summary>Prepares and launches a phase on the whole region and runs the fabric until it is quiet; returns its cycles.</summary>
    public long Run(LayerPhase phase)
    {
        phase.Prepare(Sim);
        _current = phase;
        Sim.Launch(PhaseTask);
        var cycles = Sim.Run();
        _current = null;
        Log.Add((phase.Name, cycles));
        return cycles;
    }

    /// <summary>Writes a token-major (tokens x width) tensor into a block-layout buffer of width / Cc feature rows per
    /// PE, every worker's block; feature (x, row) is column x's row `row` (default: feature x rows + row).</summary>
    public void Write(Buf buffer, ReadOnlySpan<float> tokenMajor, int width, Func<int, int, int>? featureOf = null)
    {
        var rows = width / Grid.Columns;
        featureOf ??= (x, f) => x * rows + f;
        var block = new float[rows * Grid.N];
        for (var y = 1; y <= Grid.Rows; y++)
            for (var x = 0; x < Grid.Columns; x++)
            {
                for (var f = 0; f < rows; f++)
                    for (var t = 0; t < Grid.N; t++)
                        block[f * Grid.N + t] = tokenMajor[((y - 1) * Grid.N + t) * width + featureOf(x, f)];
                Sim.Host.WriteAt(Arena, x, y, buffer.Address, block);
            }
        Sim.Host.EndBatch();
    }

    /// <summary>Reads a block-layout buffer of width / Cc feature rows per PE back as a token-major tensor.</summary>
    public float[] Read(Buf buffer, int width, Func<int, int, int>? featureOf = null)
    {
        var rows = width / Grid.Columns;
        featureOf ??= (x, f) => x * rows + f;
        var block = new float[rows * Grid.N];
        var result = new float[Grid.Tokens * width];
        for (var y = 1; y <= Grid.Rows; y++)
            for (var x = 0; x < Grid.Columns; x++)
            {
                Sim.Host.ReadAt(Arena, x, y, buffer.Address, block);
                for (var f = 0; f < rows; f++)
                    for (var t = 0; t < Grid.N; t++)
                        result[((y - 1) * Grid.N + t) * width + featureOf(x, f)] = block[f * Grid.N + t];
            }
        Sim.Host.EndBatch();
        return result;
    }
}

// Row and column all-to-all (a distributed transpose): on each row of W PEs, PE x starts with W chunks of c values,
// chunk j meant for PE j, and ends with W chunks, chunk s the one PE s meant for it (`alltoall`); the same down each
// column of H PEs (`alltoall-col`, south for east, north for west). The pattern of a 3-D FFT's pencil transposes:
// every PE sends a few values to every other PE of its row, which neither the stencil's neighbour streams nor the
// reduces exercise.
//
// Store and forward on two colors per direction (they alternate along the row, so a PE receives on one and sends on the
// other). Eastwards, PE x sends its chunks for x + 1 .. W - 1 in that order; each PE on the way keeps the first chunk of
// every stream that reaches it and relays the rest (a fabin -> fabout move), so the stream from PE s reaches PE x as
// its chunks for x .. W - 1. Westwards the same with the order reversed: PE x sends its chunks for 0 .. x - 1 and each
// PE keeps the last chunk of each stream. A PE does its own chunk, then the eastward streams (sources 0 .. x - 1, in the
// order they arrive), then the westward ones (sources W - 1 .. x + 1), all on the main thread. The link between x and
// x + 1 carries (x + 1)(W - 1 - x) chunks each way, W² c / 4 in the middle: the row's bisection bounds any all-to-all.
using Wafer.Core;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Kernels.Collectives;

/// <summary>The colors and queues one all-to-all uses: colors east0, east0 + 1 alternate eastwards (west0, west0 + 1
/// westwards); a PE receives east-going values on input queue EastIn and west-going ones on WestIn, and sends on
/// EastOut / WestOut ("east" is the direction of growing position along the line).</summary>
public readonly record struct AllToAllLanes(int East0, int West0, int EastIn, int WestIn, int EastOut, int WestOut)
{
    internal int EastColor(int i) => East0 + (i & 1);
    internal int WestColor(int i) => West0 + (i & 1);
}

public sealed class AllToAll(bool columns = false) : IFabricDemo
{
    public const int StartTask = 10;
    /// <summary>Colors 0-3; input queues 0 and 1 (6 deep on WSE-2), output queues 2 and 3 (6 deep): every stream keeps
    /// one value a cycle.</summary>
    public static readonly AllToAllLanes Lanes = new(0, 2, 0, 1, 2, 3);

    public string Name => columns ? "alltoall-col" : "alltoall";
    public string Description => columns
        ? "column all-to-all (transpose): each PE sends a chunk of --length values to every PE of its column, store and forward both ways"
        : "row all-to-all (transpose): each PE sends a chunk of --length values to every PE of its row, store and forward both ways";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = size.Width > 0 ? size.Width : columns ? 1 : Math.Min(8, wafer.WidthPes);
        var h = size.Height > 0 ? size.Height : columns ? Math.Min(8, wafer.HeightPes) : 1;
        var c = size.Length > 0 ? size.Length : 4;
        if (w > wafer.WidthPes || h > wafer.HeightPes) throw new WaferInputException($"{Name}: {w} x {h} PEs do not fit the {wafer.WidthPes} x {wafer.HeightPes} wafer");
        // A line is a row (columns: a column) of n PEs; i is a PE's place on it, "east" the direction of growing i.
        var n = columns ? h : w;
        if ((long)n * c > int.MaxValue / 8) throw new WaferInputException($"{Name}: {n} chunks of {c} values are too many for one PE");
        var layout = new FabricLayout(w, h);
        Route(layout, w, h, columns, Lanes);
        layout.SetCode((x, y) =>
        {
            var i = columns ? y : x;
            var code = new PeCode($"alltoall-{i}").SymbolF32("src", n * c).SymbolF32("dst", n * c);
            BindQueues(code, i, n, Lanes);
            return code.LocalTask(StartTask, ctx => Issue(ctx, i, n, c, ctx.Address("src"), ctx.Address("dst"), Lanes));
        });
        var sim = new Simulator(wafer, layout, options);
        var rng = new Random(Seeds.For(size.Seed, w, h));
        var data = new float[w * h * n * c];
        for (var k = 0; k < data.Length; k++) data[k] = (float)(rng.NextDouble() * 2 - 1);
        sim.Host.MemcpyH2D("src", 0, 0, w, h, data, n * c);
        sim.Launch(StartTask);
        sim.Run();
        var got = sim.Host.MemcpyD2H("dst", 0, 0, w, h, n * c);
        int Pe(int line, int i) => columns ? i * w + line : line * w + i;
        double maxErr = 0;
        for (var line = 0; line < (columns ? w : h); line++)
            for (var i = 0; i < n; i++)
                for (var s = 0; s < n; s++)
                    for (var k = 0; k < c; k++)
                    {
                        // The i-th PE's chunk from the s-th is the s-th PE's chunk i.
                        var expected = data[(Pe(line, s) * n + i) * c + k];
                        maxErr = Math.Max(maxErr, Math.Abs(got[(Pe(line, i) * n + s) * c + k] - expected));
                    }
        var parameters = new Dictionary<string, object> { ["width"] = w, ["height"] = h, ["chunk"] = c };
        var extra = new Dictionary<string, double>
        {
            ["valuesPerPe"] = (double)n * c,
            ["middleLinkValues"] = (double)(n / 2) * (n - n / 2) * c,
        };
        return new DemoResult(sim, maxErr, 0, parameters, extra, Model(wafer, n, c));
    }

    /// <summary>The routes of an all-to-all along every row (columns: every column) of a w x h layout.</summary>
    public static void Route(FabricLayout layout, int w, int h, bool columns, AllToAllLanes lanes)
    {
        var n = columns ? h : w;
        var (up, down) = columns ? (Ports.North, Ports.South) : (Ports.West, Ports.East);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var i = columns ? y : x;
                int nx = columns ? x : x + 1, ny = columns ? y + 1 : y, px = columns ? x : x - 1, py = columns ? y - 1 : y;
                if (i < n - 1)
                {
                    layout.Route(x, y, lanes.EastColor(i), Ports.Ramp, down);
                    layout.Route(nx, ny, lanes.EastColor(i), up, Ports.Ramp);
                }
                if (i > 0)
                {
                    layout.Route(x, y, lanes.WestColor(i), Ports.Ramp, up);
                    layout.Route(px, py, lanes.WestColor(i), down, Ports.Ramp);
                }
            }
    }

    /// <summary>Binds the queues the PE at place i of a line of n uses.</summary>
    public static void BindQueues(PeCode code, int i, int n, AllToAllLanes lanes)
    {
        if (i > 0) code.InputQueue(lanes.EastIn, lanes.EastColor(i - 1)).OutputQueue(lanes.WestOut, lanes.WestColor(i));
        if (i < n - 1) code.OutputQueue(lanes.EastOut, lanes.EastColor(i)).InputQueue(lanes.WestIn, lanes.WestColor(i + 1));
    }

    /// <summary>The ops of the PE at place i: its chunks of c values at byte address src (chunk j for place j), the
    /// chunks it gets at dst (chunk s from place s). Its own chunk is copied first, then the eastward streams, then the
    /// westward ones (module comment).</summary>
    public static void Issue(TaskContext ctx, int i, int n, int c, int src, int dst, AllToAllLanes lanes)
    {
        ctx.Fmovs(Dsd.Mem1D(dst, c, 1, i * c), Dsd.Mem1D(src, c, 1, i * c));
        int east = (n - 1 - i) * c, west = i * c;
        for (var s = 0; s < i; s++)
        {
            ctx.Fmovs(Dsd.Mem1D(dst, c, 1, s * c), Dsd.FabIn(lanes.EastColor(i - 1), c, lanes.EastIn));
            if (east > 0) ctx.Fmovs(Dsd.FabOut(lanes.EastColor(i), east, lanes.EastOut), Dsd.FabIn(lanes.EastColor(i - 1), east, lanes.EastIn));
        }
        if (east > 0) ctx.Fmovs(Dsd.FabOut(lanes.EastColor(i), east, lanes.EastOut), Dsd.Mem1D(src, east, 1, (i + 1) * c));
        for (var s = n - 1; s > i; s--)
        {
            if (west > 0) ctx.Fmovs(Dsd.FabOut(lanes.WestColor(i), west, lanes.WestOut), Dsd.FabIn(lanes.WestColor(i + 1), west, lanes.WestIn));
            ctx.Fmovs(Dsd.Mem1D(dst, c, 1, s * c), Dsd.FabIn(lanes.WestColor(i + 1), c, lanes.WestIn));
        }
        if (west > 0) ctx.Fmovs(Dsd.FabOut(lanes.WestColor(i), west, lanes.WestOut), Dsd.Mem1D(src, west, 1, 0));
    }

    /// <summary>Cycles of the all-to-all program: the task start, then the line's ops (Finish).</summary>
    public static long Model(WaferConfig cfg, int n, int c) => Finish(cfg, n, c, cfg.TaskStartCycles).Max();

    /// <summary>Cycle model, per place on the line: the cycle after its last op, when every PE issues its first op at
    /// `start`. A recursion over every value of the line, from the costs of docs/architecture.md §3: a PE's ops run one
    /// after the other (the own-chunk copy SU + c / fp32 move width); a streaming op moves its first value SU after it
    /// issues and each next one a cycle later, or when it has arrived: a value moved by an upstream engine at t is in
    /// this PE's queue at t + E + R + L + R. The next op issues the cycle after the last value. Eastward streams are
    /// timed PE by PE from place 0, then westward ones from place n - 1 (a PE turns west once its eastward ops are done).
    /// Backpressure is not modelled: the queues on the way are at least R + 1 deep.</summary>
    public static long[] Finish(WaferConfig cfg, int n, int c, long start)
    {
        long su = cfg.DsdOpStartupCycles;
        var path = StreamTiming.Path(cfg);
        var ready = new long[n];
        Array.Fill(ready, start + OpCycles.Memory(cfg, c, cfg.SimdWidthFp32Add));
        if (n == 1) return ready;

        long Stream(long issue, long[] incoming, ref int next, int count, List<long>? moved)
        {
            var t = issue + su - 1;
            for (var k = 0; k < count; k++)
            {
                t = Math.Max(t + 1, incoming[next++] + path);
                moved?.Add(t);
            }
            return t + 1;
        }

        long Send(long issue, int count, List<long> moved)
        {
            for (var k = 0; k < count; k++) moved.Add(issue + su + k);
            return issue + su + count;
        }

        var eastOut = new long[n][];
        for (var i = 0; i < n; i++)
        {
            var moved = new List<long>();
            var incoming = i > 0 ? eastOut[i - 1] : [];
            var next = 0;
            int east = (n - 1 - i) * c;
            var t = ready[i];
            for (var s = 0; s < i; s++)
            {
                t = Stream(t, incoming, ref next, c, null);
                if (east > 0) t = Stream(t, incoming, ref next, east, moved);
            }
            if (east > 0) t = Send(t, east, moved);
            ready[i] = t;
            eastOut[i] = [.. moved];
        }
        var westOut = new long[n][];
        for (var i = n - 1; i >= 0; i--)
        {
            var moved = new List<long>();
            var incoming = i < n - 1 ? westOut[i + 1] : [];
            var next = 0;
            int west = i * c;
            var t = ready[i];
            for (var s = n - 1; s > i; s--)
            {
                if (west > 0) t = Stream(t, incoming, ref next, west, moved);
                t = Stream(t, incoming, ref next, c, null);
            }
            if (west > 0) t = Send(t, west, moved);
            westOut[i] = [.. moved];
            ready[i] = t;
        }
        return ready;
    }
}

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

public sealed class AllToAll(bool columns = false) : IFabricDemo
{
    public const int StartTask = 10;
    // Input queues 0 and 1 (6 deep on WSE-2), output queues 2 and 3 (6 deep): every stream keeps one value a cycle.
    private const int EastIn = 0, WestIn = 1, EastOut = 2, WestOut = 3;

    public string Name => columns ? "alltoall-col" : "alltoall";
    public string Description => columns
        ? "column all-to-all (transpose): each PE sends a chunk of --length values to every PE of its column, store and forward both ways"
        : "row all-to-all (transpose): each PE sends a chunk of --length values to every PE of its row, store and forward both ways";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length;

    private static int EastColor(int x) => x & 1;
    private static int WestColor(int x) => 2 + (x & 1);

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = size.Width > 0 ? size.Width : columns ? 1 : Math.Min(8, wafer.WidthPes);
        var h = size.Height > 0 ? size.Height : columns ? Math.Min(8, wafer.HeightPes) : 1;
        var c = size.Length > 0 ? size.Length : 4;
        if (w > wafer.WidthPes || h > wafer.HeightPes) throw new WaferInputException($"{Name}: {w} x {h} PEs do not fit the {wafer.WidthPes} x {wafer.HeightPes} wafer");
        // A line is a row (columns: a column) of n PEs; i is a PE's place on it, "east" the direction of growing i.
        var n = columns ? h : w;
        if ((long)n * c > int.MaxValue / 8) throw new WaferInputException($"{Name}: {n} chunks of {c} values are too many for one PE");
        var (up, down) = columns ? (Ports.North, Ports.South) : (Ports.West, Ports.East);
        var layout = new FabricLayout(w, h);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var i = columns ? y : x;
                int nx = columns ? x : x + 1, ny = columns ? y + 1 : y, px = columns ? x : x - 1, py = columns ? y - 1 : y;
                if (i < n - 1)
                {
                    layout.Route(x, y, EastColor(i), Ports.Ramp, down);
                    layout.Route(nx, ny, EastColor(i), up, Ports.Ramp);
                }
                if (i > 0)
                {
                    layout.Route(x, y, WestColor(i), Ports.Ramp, up);
                    layout.Route(px, py, WestColor(i), down, Ports.Ramp);
                }
            }
        layout.SetCode((x, y) => Code(columns ? y : x, n, c));
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

    private static PeCode Code(int x, int w, int c)
    {
        var code = new PeCode($"alltoall-{x}").SymbolF32("src", w * c).SymbolF32("dst", w * c);
        if (x > 0) code.InputQueue(EastIn, EastColor(x - 1)).OutputQueue(WestOut, WestColor(x));
        if (x < w - 1) code.OutputQueue(EastOut, EastColor(x)).InputQueue(WestIn, WestColor(x + 1));
        code.LocalTask(StartTask, ctx =>
        {
            int src = ctx.Address("src"), dst = ctx.Address("dst");
            ctx.Fmovs(Dsd.Mem1D(dst, c, 1, x * c), Dsd.Mem1D(src, c, 1, x * c));
            int east = (w - 1 - x) * c, west = x * c;
            for (var s = 0; s < x; s++)
            {
                ctx.Fmovs(Dsd.Mem1D(dst, c, 1, s * c), Dsd.FabIn(EastColor(x - 1), c, EastIn));
                if (east > 0) ctx.Fmovs(Dsd.FabOut(EastColor(x), east, EastOut), Dsd.FabIn(EastColor(x - 1), east, EastIn));
            }
            if (east > 0) ctx.Fmovs(Dsd.FabOut(EastColor(x), east, EastOut), Dsd.Mem1D(src, east, 1, (x + 1) * c));
            for (var s = w - 1; s > x; s--)
            {
                if (west > 0) ctx.Fmovs(Dsd.FabOut(WestColor(x), west, WestOut), Dsd.FabIn(WestColor(x + 1), west, WestIn));
                ctx.Fmovs(Dsd.Mem1D(dst, c, 1, s * c), Dsd.FabIn(WestColor(x + 1), c, WestIn));
            }
            if (west > 0) ctx.Fmovs(Dsd.FabOut(WestColor(x), west, WestOut), Dsd.Mem1D(src, west, 1, 0));
        });
        return code;
    }

    /// <summary>Cycle model: a recursion over every value of the row, from the costs of docs/architecture.md §3. A PE's ops
    /// run one after the other (TS to start the task; the own-chunk copy SU + c / fp32 move width); a streaming op moves
    /// its first value SU after it issues and each next one a cycle later, or when it has arrived: a value moved by an
    /// upstream engine at t is in this PE's queue at t + E + R + L + R. The next op issues the cycle after the last
    /// value. Eastward streams are timed PE by PE from x = 0, then westward ones from x = W - 1 (a PE turns west once
    /// its eastward ops are done). Backpressure is not modelled: every queue on the way is 6 deep.</summary>
    public static long Model(WaferConfig cfg, int w, int c)
    {
        long ts = cfg.TaskStartCycles, su = cfg.DsdOpStartupCycles;
        long path = cfg.ExecuteLatencyCycles + 2L * cfg.RampLatencyCycles + cfg.HopLatencyCycles;
        var ready = new long[w];
        Array.Fill(ready, ts + su + (c + cfg.SimdWidthFp32Add - 1) / cfg.SimdWidthFp32Add);
        if (w == 1) return ready[0];

        long Stream(long issue, long[] incoming, ref int next, int n, List<long>? moved)
        {
            var t = issue + su - 1;
            for (var i = 0; i < n; i++)
            {
                t = Math.Max(t + 1, incoming[next++] + path);
                moved?.Add(t);
            }
            return t + 1;
        }

        long Send(long issue, int n, List<long> moved)
        {
            for (var i = 0; i < n; i++) moved.Add(issue + su + i);
            return issue + su + n;
        }

        var eastOut = new long[w][];
        for (var x = 0; x < w; x++)
        {
            var moved = new List<long>();
            var incoming = x > 0 ? eastOut[x - 1] : [];
            var next = 0;
            int east = (w - 1 - x) * c;
            var t = ready[x];
            for (var s = 0; s < x; s++)
            {
                t = Stream(t, incoming, ref next, c, null);
                if (east > 0) t = Stream(t, incoming, ref next, east, moved);
            }
            if (east > 0) t = Send(t, east, moved);
            ready[x] = t;
            eastOut[x] = [.. moved];
        }
        long end = 0;
        var westOut = new long[w][];
        for (var x = w - 1; x >= 0; x--)
        {
            var moved = new List<long>();
            var incoming = x < w - 1 ? westOut[x + 1] : [];
            var next = 0;
            int west = x * c;
            var t = ready[x];
            for (var s = w - 1; s > x; s--)
            {
                if (west > 0) t = Stream(t, incoming, ref next, west, moved);
                t = Stream(t, incoming, ref next, c, null);
            }
            if (west > 0) t = Send(t, west, moved);
            westOut[x] = [.. moved];
            end = Math.Max(end, t);
        }
        return end;
    }
}

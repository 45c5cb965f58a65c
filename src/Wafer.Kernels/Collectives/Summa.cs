// SUMMA (van de Geijn and Watts): C = A B on a W x H grid, fp32. PE (x, y) owns C block (y, x) (mb x nb), and the A and
// B panels of the K steps it owns: K = S b with S = lcm(W, H) steps of width b; A panel s (mb x b) of block row y lives
// on column s / (S / W), B panel s (b x nb) of block column x on row s / (S / H). Step s: the owners broadcast A panel s
// along their rows and B panel s down their columns, and every PE adds A_s B_s to its C block.
//
// A static route cannot broadcast from an owner that moves with s, so each broadcast goes through the row's (column's)
// first PE: the owner injects its panel towards x = 0 on color 0 (every router {EAST, RAMP} -> WEST, x = 0 -> RAMP: a
// multi-input route, docs/sources.md §3.1; one owner injects at a time), and PE (0, y) relays it (an async fabin -> fabout
// stream) as a multicast east on color 1 that every PE of the row, itself included, takes off its router. Columns do the
// same north on color 2 and south on color 3. A step's panel is fully drained before the next owner injects: the next
// owner first reads this step's panel, which has then passed through the relay.
//
// Per step a PE: issues its async injections (if it owns a panel) and relays (if first in its row/column), reads the A
// panel (mb b wavelets) and the B panel (b nb), then mb b loop steps of one @fmacs each: C[i, :] += A[i, t] B[t, :].
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Kernels.Collectives;

public sealed class Summa : IFabricDemo
{
    public const int StartTask = 10;
    private const int ToRowRoot = 0, RowCast = 1, ToColumnRoot = 2, ColumnCast = 3;
    private const int InToRowRoot = 0, InRowCast = 1, InToColumnRoot = 2, InColumnCast = 3;
    private const int OutToRowRoot = 2, OutRowCast = 3, OutToColumnRoot = 4, OutColumnCast = 5;

    public string Name => "summa";
    public string Description => "SUMMA C = A B (fp32): owners' A panels broadcast along rows and B panels down columns (relayed by the first PE), --length mb, --block nb, --outputs b per step";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block | SizeOptions.Outputs;

    public static int Steps(int w, int h) => w / Gcd(w, h) * h;
    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = size.Width > 0 ? size.Width : Math.Min(4, wafer.WidthPes);
        var h = size.Height > 0 ? size.Height : Math.Min(4, wafer.HeightPes);
        var mb = size.Length > 0 ? size.Length : 8;
        var nb = size.Block > 0 ? size.Block : 8;
        var b = size.Outputs > 0 ? size.Outputs : 4;
        if (w > wafer.WidthPes || h > wafer.HeightPes) throw new WaferInputException($"{Name}: {w} x {h} PEs do not fit the {wafer.WidthPes} x {wafer.HeightPes} wafer");
        var steps = Steps(w, h);
        int aSteps = steps / w, bSteps = steps / h; // panels each PE owns
        var layout = new FabricLayout(w, h);
        Routes(layout, w, h);
        layout.SetCode((x, y) => Code(x, y, w, h, mb, nb, b, steps));
        var sim = new Simulator(wafer, layout, options);
        var rng = new Random(Seeds.For(size.Seed, w, h));
        int m = h * mb, n = w * nb, k = steps * b;
        var a = new float[m * k];
        var bm = new float[k * n];
        for (var i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        for (var i = 0; i < bm.Length; i++) bm[i] = (float)(rng.NextDouble() * 2 - 1);
        // PE (x, y): its A panels s = x aSteps + p (rows of block row y) and B panels s = y bSteps + p (columns of block
        // column x), each panel contiguous: A panel row-major mb x b, B panel row-major b x nb.
        var aLocal = new float[w * h * aSteps * mb * b];
        var bLocal = new float[w * h * bSteps * b * nb];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var pe = y * w + x;
                for (var p = 0; p < aSteps; p++)
                    for (var i = 0; i < mb; i++)
                        for (var t = 0; t < b; t++)
                            aLocal[((pe * aSteps + p) * mb + i) * b + t] = a[(y * mb + i) * k + (x * aSteps + p) * b + t];
                for (var p = 0; p < bSteps; p++)
                    for (var t = 0; t < b; t++)
                        for (var j = 0; j < nb; j++)
                            bLocal[((pe * bSteps + p) * b + t) * nb + j] = bm[((y * bSteps + p) * b + t) * n + x * nb + j];
            }
        sim.Host.MemcpyH2D("A", 0, 0, w, h, aLocal, aSteps * mb * b);
        sim.Host.MemcpyH2D("B", 0, 0, w, h, bLocal, bSteps * b * nb);
        sim.Launch(StartTask);
        sim.Run();
        var got = sim.Host.MemcpyD2H("C", 0, 0, w, h, mb * nb);
        double maxErr = 0, tol = 0;
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                for (var i = 0; i < mb; i++)
                    for (var j = 0; j < nb; j++)
                    {
                        double sum = 0, mag = 0;
                        for (var t = 0; t < k; t++) { var p = (double)a[(y * mb + i) * k + t] * bm[t * n + x * nb + j]; sum += p; mag += Math.Abs(p); }
                        maxErr = Math.Max(maxErr, Math.Abs(got[((y * w + x) * mb + i) * nb + j] - sum));
                        tol = Math.Max(tol, 4 * float.Epsilon + 2e-6 * mag);
                    }
        var parameters = new Dictionary<string, object> { ["width"] = w, ["height"] = h, ["mb"] = mb, ["nb"] = nb, ["panel"] = b, ["steps"] = steps, ["m"] = m, ["n"] = n, ["k"] = k };
        var extra = new Dictionary<string, double> { ["macs"] = (double)m * n * k };
        return new DemoResult(sim, maxErr, tol, parameters, extra, Model(wafer, w, h, mb, nb, b));
    }

    private static void Routes(FabricLayout layout, int w, int h)
    {
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                if (w > 1)
                {
                    // Owners towards x = 0 (which takes its own injection too), then x = 0's multicast east.
                    layout.Route(x, y, ToRowRoot, x == w - 1 ? Ports.Ramp : Ports.East | Ports.Ramp, x == 0 ? Ports.Ramp : Ports.West);
                    layout.Route(x, y, RowCast, x == 0 ? Ports.Ramp : Ports.West, Ports.Ramp | (x < w - 1 ? Ports.East : Ports.None));
                }
                if (h > 1)
                {
                    layout.Route(x, y, ToColumnRoot, y == h - 1 ? Ports.Ramp : Ports.South | Ports.Ramp, y == 0 ? Ports.Ramp : Ports.North);
                    layout.Route(x, y, ColumnCast, y == 0 ? Ports.Ramp : Ports.North, Ports.Ramp | (y < h - 1 ? Ports.South : Ports.None));
                }
            }
    }

    private static PeCode Code(int x, int y, int w, int h, int mb, int nb, int b, int steps)
    {
        int aSteps = steps / w, bSteps = steps / h;
        var code = new PeCode($"summa-{x}-{y}")
            .SymbolF32("C", mb * nb).SymbolF32("Abuf", mb * b).SymbolF32("Bbuf", b * nb)
            .SymbolF32("A", aSteps * mb * b).SymbolF32("B", bSteps * b * nb).Symbol("s", 4);
        if (w > 1)
        {
            code.OutputQueue(OutToRowRoot, ToRowRoot).InputQueue(InRowCast, RowCast);
            if (x == 0) code.InputQueue(InToRowRoot, ToRowRoot).OutputQueue(OutRowCast, RowCast);
        }
        if (h > 1)
        {
            code.OutputQueue(OutToColumnRoot, ToColumnRoot).InputQueue(InColumnCast, ColumnCast);
            if (y == 0) code.InputQueue(InToColumnRoot, ToColumnRoot).OutputQueue(OutColumnCast, ColumnCast);
        }
        int cAddr = -1, abAddr = -1, bbAddr = -1, aAddr = -1, bAddr = -1, sAddr = -1;
        Action<TaskContext>? step = null;
        step = ctx =>
        {
            var s = ctx.LoadI32(sAddr);
            if (s == steps) return;
            ctx.StoreI32(sAddr, s + 1);
            int aOwner = s / aSteps, bOwner = s / bSteps;
            var aPanel = Dsd.Mem1D(aAddr + (s - aOwner * aSteps) * mb * b * 4, mb * b);
            var bPanel = Dsd.Mem1D(bAddr + (s - bOwner * bSteps) * b * nb * 4, b * nb);
            var aBuf = Dsd.Mem1D(abAddr, mb * b);
            var bBuf = Dsd.Mem1D(bbAddr, b * nb);
            // Injection and relay run on microthreads while the main thread takes the panel off the fabric; the B
            // broadcast starts after the A panel is in (the two would share the relay PE's ramps otherwise).
            if (w > 1 && x == aOwner) ctx.Fmovs(Dsd.FabOut(ToRowRoot, mb * b, OutToRowRoot), aPanel, Completion.Nothing);
            if (w > 1 && x == 0) ctx.Fmovs(Dsd.FabOut(RowCast, mb * b, OutRowCast), Dsd.FabIn(ToRowRoot, mb * b, InToRowRoot), Completion.Nothing);
            if (w > 1) ctx.Fmovs(aBuf, Dsd.FabIn(RowCast, mb * b, InRowCast));
            if (h > 1 && y == bOwner) ctx.Fmovs(Dsd.FabOut(ToColumnRoot, b * nb, OutToColumnRoot), bPanel, Completion.Nothing);
            if (h > 1 && y == 0) ctx.Fmovs(Dsd.FabOut(ColumnCast, b * nb, OutColumnCast), Dsd.FabIn(ToColumnRoot, b * nb, InToColumnRoot), Completion.Nothing);
            if (h > 1) ctx.Fmovs(bBuf, Dsd.FabIn(ColumnCast, b * nb, InColumnCast));
            var aSource = w > 1 ? aBuf : aPanel;
            var bSource = h > 1 ? bBuf : bPanel;
            for (var i = 0; i < mb; i++)
                for (var t = 0; t < b; t++)
                {
                    ctx.Scalar(1); // loop step
                    ctx.Fmacs(Dsd.Mem1D(cAddr + i * nb * 4, nb), Dsd.Mem1D(cAddr + i * nb * 4, nb),
                        Dsd.Mem1D(bSource.BaseAddress + t * nb * 4, nb), ScalarOperand.Mem(aSource.BaseAddress + (i * b + t) * 4));
                }
            ctx.Then(step!);
        };
        code.LocalTask(StartTask, ctx =>
        {
            (cAddr, abAddr, bbAddr, aAddr, bAddr, sAddr) = (ctx.Address("C"), ctx.Address("Abuf"), ctx.Address("Bbuf"), ctx.Address("A"), ctx.Address("B"), ctx.Address("s"));
            ctx.StoreI32(sAddr, 0);
            ctx.Fmovs(Dsd.Mem1D(cAddr, mb * nb), 0f);
            ctx.Then(step);
        });
        return code;
    }

    /// <summary>Cycle model: a schedule recursion over the grid (docs/kernels.md). Per step every PE pays its loop step
    /// (1) and one cycle per async op it issues (injection, relay); the row's A broadcast starts when its owner and the
    /// relay (x = 0) are ready and moves one value per 2 cycles (the relay's ramp carries each twice), reaching PE x after the owner's ramp, xs hops to x = 0, the relay's ramps and x hops back (4R +
    /// (xs + x) L + 2 SU, and the execute stage E of both senders); a PE's read ends a span after the later of that arrival and its own start; the same for B
    /// down the column once the PE has its A panel; then mb b (1 + SU + nb) of loop steps and @fmacs (fp32 FMAC width 1).</summary>
    public static long Model(WaferConfig c, int w, int h, int mb, int nb, int b)
    {
        long ts = c.TaskStartCycles, su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles;
        var steps = Steps(w, h);
        int aSteps = steps / w, bSteps = steps / h;
        // The relay PE's ramp down carries each value twice (towards the relay, then its own copy of the multicast):
        // one wavelet per ramp per cycle makes a broadcast move one value every 2 cycles.
        long spanA = 2L * mb * b - 1, spanB = 2L * b * nb - 1;
        var compute = (long)mb * b * (1 + su + (nb + c.SimdWidthFp32Mul - 1) / c.SimdWidthFp32Mul);
        var ready = new long[w * h];
        // The start task: zero C (SU + mb nb / fp32 move width) and the first continuation's cycle.
        Array.Fill(ready, ts + su + (mb * nb + c.SimdWidthFp32Add - 1) / c.SimdWidthFp32Add + 1);
        for (var s = 0; s < steps; s++)
        {
            int aOwner = s / aSteps, bOwner = s / bSteps;
            for (var y = 0; y < h; y++)
                for (var x = 0; x < w; x++)
                    ready[y * w + x] += (w > 1 && x == aOwner ? 1 : 0) + (w > 1 && x == 0 ? 1 : 0);
            if (w > 1)
                for (var y = 0; y < h; y++)
                {
                    // The broadcast starts when its owner and relay are ready; a late receiver reads what waits for
                    // it (backpressure from it is not modelled: the receivers of a row are within a few hops' skew).
                    var start = Math.Max(ready[y * w + aOwner], ready[y * w]);

                    for (var x = 0; x < w; x++)
                    {
                        var arrival = start + 2 * su + 2 * c.ExecuteLatencyCycles + 4 * r + (aOwner + x) * l;
                        ready[y * w + x] = Math.Max(arrival, ready[y * w + x] + su) + spanA;
                    }
                }
            for (var y = 0; y < h; y++)
                for (var x = 0; x < w; x++)
                    ready[y * w + x] += (h > 1 && y == bOwner ? 1 : 0) + (h > 1 && y == 0 ? 1 : 0);
            if (h > 1)
                for (var x = 0; x < w; x++)
                {
                    var start = Math.Max(ready[bOwner * w + x], ready[x]);

                    for (var y = 0; y < h; y++)
                    {
                        var arrival = start + 2 * su + 2 * c.ExecuteLatencyCycles + 4 * r + (bOwner + y) * l;
                        ready[y * w + x] = Math.Max(arrival, ready[y * w + x] + su) + spanB;
                    }
                }
            for (var p = 0; p < w * h; p++) ready[p] += compute + 1; // the FMACs, then the next continuation
        }
        return ready.Max();
    }
}

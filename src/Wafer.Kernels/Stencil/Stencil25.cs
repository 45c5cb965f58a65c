// The 25-point 3-D stencil of Jacquelin, Araya-Polo and Meng (SC22): the acoustic wave equation, 8th order in space,
// fp32, u_next = 2u - u_prev + v2 * lap(u), X and Y mapped on the fabric (one PE per (x, y)), Z in PE memory (a column
// of nz cells padded with 4 zeros at each end). lap(u) = 3 c0 u + sum_{r=1..4} c_r (u[x±r] + u[y±r] + u[z±r]);
// outside the grid u is 0.
//
// Each PE needs the columns of its 4 nearest PEs in each of the 4 directions: 16 streams of nz values per time step.
// Per direction the neighbours take turns in 5 rounds: in round p the PEs at position i = p (mod 5) along the direction
// send their column, and the router multicasts it to the next 4 PEs (the 1st to 3rd take it and pass it on, the 4th
// only takes it). Rounds alternate between two colors per direction (A: rounds 0, 2, 4; B: rounds 1, 3), so a route
// needs at most 3 switch positions (the hardware has 4, docs/sources.md §3.4), and a PE binds 2 input queues per direction:
// all 8 of a WSE-2 PE. A sender ends its column with a control wavelet that advances every switch on its path and
// runs a control task on the receivers, which count them: a round may read a color's queue only once the control
// wavelets of the previous round on that color are gone (a data read stalls behind a control wavelet).
//
// Ops per interior cell (the paper's Table IV mix is 17 FMUL, 17 FADD, 8 FMA, 1 FSUB): a remote value is taken off the
// fabric by an FMUL with its coefficient (16) and added to the accumulator (15 FADDs: the first FMUL of a step writes
// the accumulator); the 8 z neighbours and the centre are FMACs (9); then acc *= v2 (FMUL), next = u - u_prev (FSUB),
// next += u, next += acc (2 FADDs): 17 FMUL, 17 FADD, 9 FMA, 1 FSUB, 16 fabric loads. All run on the main thread
// (the hardware's one datapath), in a fixed order, so a PE's op cycles add up as they would on the hardware.
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;
using Wafer.Fabric.Stats;

namespace Wafer.Kernels.Stencil;

public sealed class Stencil25 : IFabricDemo
{
    public const int StartTask = 10;
    private const int RoundTask = 11, UpdateTask = 12, ControlA = 20, ControlB = 21;
    public const int Radius = 4;
    public const int Rounds = Radius + 1;

    /// <summary>Coefficients of the 8th-order central second derivative (grid spacing 1): c0 .. c4.</summary>
    public static readonly float[] Coefficients = [-205f / 72f, 8f / 5f, -1f / 5f, 8f / 315f, -1f / 560f];

    public string Name => "stencil25";
    public string Description => "25-point 3-D wave-equation stencil (SC22): X,Y on the fabric, Z (--length) in PE memory in blocks of --block, --steps time steps";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block | SizeOptions.Steps;

    /// <summary>The four directions data travel in: along x or y, towards growing or shrinking coordinates.</summary>
    internal enum Way { East, West, South, North }

    internal static readonly Way[] Ways = [Way.East, Way.West, Way.South, Way.North];

    /// <summary>Position of (x, y) along a direction (data move towards larger positions) and that axis' length.</summary>
    internal static (int Position, int Length) Along(Way way, int x, int y, int w, int h) => way switch
    {
        Way.East => (x, w),
        Way.West => (w - 1 - x, w),
        Way.South => (y, h),
        _ => (h - 1 - y, h),
    };

    private static (Ports Up, Ports Down) PortsOf(Way way) => way switch
    {
        Way.East => (Ports.West, Ports.East),
        Way.West => (Ports.East, Ports.West),
        Way.South => (Ports.North, Ports.South),
        _ => (Ports.South, Ports.North),
    };

    /// <summary>Color of a direction's rounds: A (even rounds) or B (odd).</summary>
    internal static int Color(Way way, int round) => 2 * (int)way + (round & 1);

    /// <summary>Input queue of a direction's color (8 in all, 2 per direction).</summary>
    internal static int InQueue(Way way, int round) => 2 * (int)way + (round & 1);

    /// <summary>Output queue a PE sends a direction's column on (queues 0-5 exist on WSE-2; 6 deep: 2, 3).</summary>
    internal static int OutQueue(Way way) => way switch { Way.East => 2, Way.West => 3, Way.South => 4, _ => 5 };

    /// <summary>What position i does in round p of a direction of length len: 0 = nothing, +1 = send, or the distance
    /// d (1..4) of the column it receives.</summary>
    public static int Role(int i, int len, int round)
    {
        var d = ((i - round) % Rounds + Rounds) % Rounds;
        if (d == 0) return i + 1 < len ? -1 : 0;
        return i - d >= 0 ? d : 0;
    }

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = size.Width > 0 ? size.Width : Math.Min(10, wafer.WidthPes);
        var h = size.Height > 0 ? size.Height : Math.Min(10, wafer.HeightPes);
        var nz = size.Length > 0 ? size.Length : 64;
        var steps = size.Steps > 0 ? size.Steps : 2;
        var block = size.Block > 0 ? size.Block : nz;
        if (block > nz) throw new WaferInputException($"{Name}: --block {block} is longer than the column (--length {nz})");
        if (w > wafer.WidthPes || h > wafer.HeightPes) throw new WaferInputException($"{Name}: {w} x {h} PEs do not fit the {wafer.WidthPes} x {wafer.HeightPes} wafer");
        if (wafer.InputQueueDepthWords.Length < 8) throw new WaferInputException($"{Name}: needs 8 input queues per PE (this wafer has {wafer.InputQueueDepthWords.Length})");
        var layout = new FabricLayout(w, h);
        Routes(layout, w, h);
        layout.SetCode((x, y) => Code(x, y, w, h, nz, block, steps));
        var sim = new Simulator(wafer, layout, options);
        var rng = new Random(Seeds.For(size.Seed, w, h));
        var cells = w * h * nz;
        // A smooth-ish start: random values, v2 = (v dt / h)^2 in [0.05, 0.15] (stable for this scheme).
        var u = new float[cells];
        var uPrev = new float[cells];
        var v2 = new float[cells];
        for (var i = 0; i < cells; i++) { u[i] = (float)(rng.NextDouble() * 2 - 1); uPrev[i] = (float)(rng.NextDouble() * 2 - 1) * 0.5f; v2[i] = (float)(0.05 + 0.1 * rng.NextDouble()); }
        sim.Host.MemcpyH2D("u0", 0, 0, w, h, Padded(u, w * h, nz), nz + 2 * Radius);
        sim.Host.MemcpyH2D("u1", 0, 0, w, h, Padded(uPrev, w * h, nz), nz + 2 * Radius);
        sim.Host.MemcpyH2D("v2", 0, 0, w, h, v2, nz);
        sim.Launch(StartTask);
        sim.Run();
        var last = steps % 2 == 0 ? "u0" : "u1";
        var got = sim.Host.MemcpyD2H(last, 0, 0, w, h, nz + 2 * Radius);
        var (reference, scale) = Reference(u, uPrev, v2, w, h, nz, steps);
        double maxErr = 0;
        for (var p = 0; p < w * h; p++)
            for (var z = 0; z < nz; z++)
                maxErr = Math.Max(maxErr, Math.Abs(got[p * (nz + 2 * Radius) + Radius + z] - reference[p * nz + z]));
        var tol = 1e-5 * scale * steps;
        var parameters = new Dictionary<string, object> { ["width"] = w, ["height"] = h, ["nz"] = nz, ["block"] = block, ["steps"] = steps };
        var cycles = (double)sim.Cycle;
        // The centre PE stands for the interior of a large grid (edge PEs have fewer neighbours and idle more).
        var stats = RunStats.Collect(sim);
        var centre = h / 2 * w + w / 2;
        var extra = new Dictionary<string, double>
        {
            ["cyclesPerStep"] = cycles / steps,
            ["cyclesPerCellPerStep"] = cycles / steps / nz,
            ["centreBusyFraction"] = stats.PeBusyCycles[centre] / cycles,
            ["centreStallFraction"] = stats.PeStallCycles[centre] / cycles,
            ["centreIdleOnMemoryFraction"] = stats.PeMemoryStallCycles[centre] / cycles,
        };
        return new DemoResult(sim, maxErr, tol, parameters, extra, StencilModel.Cycles(wafer, w, h, nz, steps, block));
    }

    private static float[] Padded(float[] values, int pes, int nz)
    {
        var padded = new float[pes * (nz + 2 * Radius)];
        for (var p = 0; p < pes; p++) Array.Copy(values, p * nz, padded, p * (nz + 2 * Radius) + Radius, nz);
        return padded;
    }

    /// <summary>The same time steps in float64 on the host; also returns max |u| over the run (for the tolerance).</summary>
    internal static (double[] U, double Scale) Reference(float[] u0, float[] u1, float[] v2, int w, int h, int nz, int steps)
    {
        var c = Coefficients.Select(v => (double)v).ToArray();
        var u = u0.Select(v => (double)v).ToArray();
        var prev = u1.Select(v => (double)v).ToArray();
        double scale = u.Max(Math.Abs);
        double At(double[] a, int x, int y, int z) => x < 0 || x >= w || y < 0 || y >= h || z < 0 || z >= nz ? 0 : a[(y * w + x) * nz + z];
        for (var s = 0; s < steps; s++)
        {
            var next = new double[u.Length];
            for (var y = 0; y < h; y++)
                for (var x = 0; x < w; x++)
                    for (var z = 0; z < nz; z++)
                    {
                        var lap = 3 * c[0] * At(u, x, y, z);
                        for (var r = 1; r <= Radius; r++)
                            lap += c[r] * (At(u, x - r, y, z) + At(u, x + r, y, z) + At(u, x, y - r, z) + At(u, x, y + r, z) + At(u, x, y, z - r) + At(u, x, y, z + r));
                        var i = (y * w + x) * nz + z;
                        next[i] = 2 * u[i] - prev[i] + v2[i] * lap;
                    }
            prev = u;
            u = next;
            scale = Math.Max(scale, u.Max(Math.Abs));
        }
        return (u, scale);
    }

    /// <summary>Per direction and color, each router's switch positions: one per round it takes part in, in order.</summary>
    private static void Routes(FabricLayout layout, int w, int h)
    {
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                foreach (var way in Ways)
                {
                    var (i, len) = Along(way, x, y, w, h);
                    var (up, down) = PortsOf(way);
                    for (var parity = 0; parity < 2; parity++)
                    {
                        var positions = new List<RoutePosition>();
                        for (var p = parity; p < Rounds; p += 2)
                        {
                            var role = Role(i, len, p);
                            if (role < 0) positions.Add(new RoutePosition(Ports.Ramp, down));
                            else if (role > 0)
                            {
                                var forward = role < Radius && i + 1 < len;
                                positions.Add(new RoutePosition(up, forward ? Ports.Ramp | down : Ports.Ramp));
                            }
                        }
                        if (positions.Count > 0) layout.Route(x, y, Color(way, parity), new ColorRoute(positions, ringMode: true));
                    }
                }
    }

    /// <summary>Per-PE progress of the time-step loop (each PE runs its own code object).</summary>
    private sealed class State
    {
        public int Step, Block, Round;
        public readonly int[] PendingControls = new int[2];
        public bool WaitingForControls;
        public bool AccumulatorWritten;
    }

    private static PeCode Code(int x, int y, int w, int h, int nz, int block, int steps)
    {
        var padded = nz + 2 * Radius;
        var blocks = (nz + block - 1) / block;
        var code = new PeCode($"stencil25-{x}-{y}")
            .SymbolF32("u0", padded).SymbolF32("u1", padded).SymbolF32("v2", nz).SymbolF32("acc", block).SymbolF32("tmp", block);
        // roles[round][way]: -1 send, 0 nothing, d receive at distance d
        var roles = new int[Rounds, 4];
        for (var p = 0; p < Rounds; p++)
            foreach (var way in Ways)
            {
                var (i, len) = Along(way, x, y, w, h);
                roles[p, (int)way] = Role(i, len, p);
            }
        foreach (var way in Ways)
        {
            var sends = false;
            for (var p = 0; p < Rounds; p++)
            {
                if (roles[p, (int)way] > 0) code.InputQueue(InQueue(way, p), Color(way, p));
                if (roles[p, (int)way] < 0) sends = true;
            }
            if (sends)
            {
                var sendRound = Enumerable.Range(0, Rounds).First(p => roles[p, (int)way] < 0);
                code.OutputQueue(OutQueue(way), Color(way, sendRound));
            }
        }
        var state = new State();
        var c = Coefficients;
        int u0 = -1, u1 = -1, v2 = -1, acc = -1, tmp = -1;
        // Block k covers cells [k b, k b + n) of the column (the last block may be shorter).
        int Start(int k) => k * block;
        int Length(int k) => Math.Min(block, nz - k * block);
        Dsd Cur(int step, int k) => Dsd.Mem1D(step % 2 == 0 ? u0 : u1, Length(k), 1, Radius + Start(k));
        Dsd Prev(int step, int k) => Dsd.Mem1D(step % 2 == 0 ? u1 : u0, Length(k), 1, Radius + Start(k));

        void StartRoundOrWait(TaskContext ctx)
        {
            // A round reads its color's queues only once the previous rounds' control wavelets there are consumed.
            if (state.PendingControls[state.Round & 1] > 0) { state.WaitingForControls = true; return; }
            ctx.Activate(RoundTask);
        }

        void Control(TaskContext ctx, int parity)
        {
            state.PendingControls[parity]--;
            if (state.WaitingForControls && state.PendingControls[state.Round & 1] == 0)
            {
                state.WaitingForControls = false;
                ctx.Activate(RoundTask);
            }
        }

        code.LocalTask(StartTask, ctx =>
        {
            (u0, u1, v2, acc, tmp) = (ctx.Address("u0"), ctx.Address("u1"), ctx.Address("v2"), ctx.Address("acc"), ctx.Address("tmp"));
            ctx.Activate(RoundTask);
        });
        code.LocalTask(RoundTask, ctx =>
        {
            var p = state.Round;
            var u = Cur(state.Step, state.Block);
            var n = Length(state.Block);
            foreach (var way in Ways)
            {
                var role = roles[p, (int)way];
                if (role < 0)
                {
                    var color = Color(way, p);
                    ctx.Fmovs(Dsd.FabOut(color, n, OutQueue(way)), u);
                    var payload = ControlPayload.Make((p & 1) == 0 ? ControlA : ControlB, advanceSwitch: true);
                    ctx.Fmovs(Dsd.FabOut(color, 1, OutQueue(way), control: true), Operand.Imm(BitConverter.UInt32BitsToSingle(payload)));
                }
                else if (role > 0)
                {
                    var inp = Dsd.FabIn(Color(way, p), n, InQueue(way, p));
                    if (!state.AccumulatorWritten)
                    {
                        ctx.Fmuls(Dsd.Mem1D(acc, n), inp, c[role]);
                        state.AccumulatorWritten = true;
                    }
                    else
                    {
                        ctx.Fmuls(Dsd.Mem1D(tmp, n), inp, c[role]);
                        ctx.Fadds(Dsd.Mem1D(acc, n), Dsd.Mem1D(acc, n), Dsd.Mem1D(tmp, n));
                    }
                    state.PendingControls[p & 1]++;
                }
            }
            ctx.Then(next =>
            {
                if (++state.Round < Rounds) StartRoundOrWait(next);
                else next.Activate(UpdateTask);
            });
        });
        code.LocalTask(UpdateTask, ctx =>
        {
            var step = state.Step;
            var k = state.Block;
            var n = Length(k);
            var u = Cur(step, k);
            var uBase = step % 2 == 0 ? u0 : u1;
            var a = Dsd.Mem1D(acc, n);
            // Centre and the 8 z neighbours (the column is padded with zeros, so every z reads in range).
            if (state.AccumulatorWritten) ctx.Fmacs(a, a, u, 3 * c[0]);
            else ctx.Fmuls(a, u, 3 * c[0]);
            for (var r = 1; r <= Radius; r++)
            {
                ctx.Fmacs(a, a, Dsd.Mem1D(uBase, n, 1, Radius + Start(k) - r), c[r]);
                ctx.Fmacs(a, a, Dsd.Mem1D(uBase, n, 1, Radius + Start(k) + r), c[r]);
            }
            // next = 2u - u_prev + v2 * acc, written over u_prev (the two columns swap roles each step).
            var next = Prev(step, k);
            ctx.Fmuls(a, a, Dsd.Mem1D(v2, n, 1, Start(k)));
            ctx.Fsubs(next, u, next);
            ctx.Fadds(next, next, u);
            ctx.Fadds(next, next, a);
            ctx.Then(nextCtx =>
            {
                state.AccumulatorWritten = false;
                state.Round = 0;
                if (++state.Block == blocks) { state.Block = 0; state.Step++; }
                if (state.Step < steps) StartRoundOrWait(nextCtx);
            });
        });
        code.ControlTask(ControlA, ctx => Control(ctx, 0));
        code.ControlTask(ControlB, ctx => Control(ctx, 1));
        return code;
    }
}

// The clock loop: steps the active PEs of each cycle in bands of rows on worker threads, skips idle cycles, and
// detects deadlock and the max-cycles guard. Links have latency >= 1 and every cross-PE read sees state as of the
// end of the previous cycle, so the visit order (and the thread count) never changes a result.
using Wafer.Core;
using System.Diagnostics;
using Wafer.Fabric.Config;
using Wafer.Fabric.Host;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Fabric.Engine;

public sealed class Simulator
{
    private readonly ProcessingElement[] _pes;
    private readonly Band[] _bands;
    private readonly SimulatorOptions _options;
    private readonly List<ProcessingElement> _withCe = [];

    public Simulator(WaferConfig config, FabricLayout layout, SimulatorOptions? options = null)
    {
        var errors = config.Validate();
        if (errors.Count > 0) throw new ConfigException($"wafer '{config.Name}': {string.Join("; ", errors)}");
        if (layout.Width > config.WidthPes || layout.Height > config.HeightPes)
            throw new FabricProgramException(
                $"program rectangle {layout.Width}x{layout.Height} exceeds the '{config.Name}' wafer's {config.WidthPes}x{config.HeightPes} PEs");
        Config = config;
        Width = layout.Width;
        Height = layout.Height;
        _options = options ?? new SimulatorOptions();
        _nextProgressSeconds = _options.ProgressIntervalSeconds;
        if (_options.Threads < 1) throw new WaferInputException($"threads must be >= 1 (is {_options.Threads})");
        if (_options.MaxCycles < 1) throw new WaferInputException($"max cycles must be >= 1 (is {_options.MaxCycles})");

        // Admission: the router state of every PE and the link table first, each PE's engine and SRAM at load.
        HostMemory.Require((double)Width * Height * (RouterHostBytesPerPe + DirectionExtensions.LinkCount * (config.HopLatencyCycles + 1) * 16.0),
            $"simulating a {Width} x {Height} program rectangle", $"~{RouterHostBytesPerPe} bytes of router state per PE and the link table", "use a smaller rectangle");
        Links = new LinkTable(Width * Height, config.HopLatencyCycles);
        _pes = new ProcessingElement[Width * Height];

        Load(layout);
        // A band is a run of consecutive PEs: whole rows when the rectangle has at least as many rows as threads, else
        // an equal share of the PEs, so that one-row programs (reduces, MeshGEMV's row) use every thread too.
        var peCount = _pes.Length;
        var threads = Math.Min(_options.Threads, peCount);
        var traceColors = _options.TraceColors.Aggregate(0u, (m, c) => m | (1u << c));
        _bands = new Band[threads];
        for (var b = 0; b < threads; b++)
        {
            int p0 = Height >= threads ? (int)((long)Height * b / threads) * Width : (int)((long)peCount * b / threads);
            int p1 = Height >= threads ? (int)((long)Height * (b + 1) / threads) * Width : (int)((long)peCount * (b + 1) / threads);
            _bands[b] = new Band(b, threads, p0, p1, new TraceBuffer { ColorMask = traceColors });
            for (var i = p0; i < p1; i++) _pes[i].Band = b;
        }
        var firstPes = _bands.Select(b => b.FirstPe).ToArray();
        foreach (var pe in _pes) pe.SetNeighborBands(firstPes);
        foreach (var (x, y) in _options.TracePes)
        {
            if (x < 0 || y < 0 || x >= Width || y >= Height) throw new WaferInputException($"trace PE ({x},{y}) is outside the {Width}x{Height} program rectangle");
            _pes[y * Width + x].Watched = true;
        }
        Host = new HostIo(this);
    }

    /// <summary>Host bytes a PE's router objects take (ProcessingElement, its color channels and FIFOs), and a PE
    /// with code its compute engine, task and queue state: upper ends of what the full-rectangle runs of BENCHMARKS.md
    /// show (peak RSS over PEs).</summary>
    internal const int RouterHostBytesPerPe = 1024, EngineHostBytesPerPe = 3072;

    public WaferConfig Config { get; }
    public int Width { get; }
    public int Height { get; }
    public int Threads => _bands.Length;
    /// <summary>Cycles simulated so far (over every Run).</summary>
    public long Cycle { get; private set; }
    public HostIo Host { get; }
    /// <summary>PE steps the engine ran (a PE is stepped only in cycles where it has work).</summary>
    public long PeSteps => _bands.Sum(b => b.Steps);

    /// <summary>Busy op-cycles, flops and values through off-wafer ports of every PE so far (cheap running totals for
    /// drivers that time parts of a run; RunStats has the full per-PE picture).</summary>
    public (long BusyPeCycles, long Flops, long PortValues) Totals()
    {
        long busy = 0, flops = 0, port = 0;
        foreach (var pe in _withCe)
        {
            busy += pe.Ce!.BusyCycles;
            flops += pe.Ce.Flops;
            port += pe.Ce.PortValues;
        }
        return (busy, flops, port);
    }

    /// <summary>Host bytes allocated while Run was running (the cycle loop is meant to allocate nothing).</summary>
    public long AllocatedBytesInRun { get; private set; }

    /// <summary>Wall-clock seconds spent inside Run.</summary>
    public double WallSeconds { get; private set; }

    internal ProcessingElement Pe(int x, int y) => _pes[y * Width + x];

    /// <summary>Wavelets waiting in PE (x, y)'s router buffer for <paramref name="color"/> from <paramref name="from"/> (for tests and debugging).</summary>
    public int RouterBuffered(int x, int y, int color, Direction from) => Pe(x, y).Channel(color)?.In[(int)from]?.Count ?? 0;

    /// <summary>Wavelets in PE (x, y)'s compute-engine input queue <paramref name="queue"/>, visible or still on the ramp.</summary>
    public int InputQueued(int x, int y, int queue) => Pe(x, y).Ce?.InputQueueCount(queue) ?? 0;

    /// <summary>The task PE (x, y) is running, or -1.</summary>
    public int RunningTask(int x, int y) => Pe(x, y).Ce?.CurrentTask ?? -1;
    internal IReadOnlyList<ProcessingElement> AllPes => _pes;

    internal LinkTable Links { get; }

    /// <summary>Index of the neighbour of PE (x, y) in direction d, or -1 past the edge.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal int NeighborIndex(int index, int x, int y, Direction d) => d switch
    {
        Direction.North => y > 0 ? index - Width : -1,
        Direction.South => y + 1 < Height ? index + Width : -1,
        Direction.East => x + 1 < Width ? index + 1 : -1,
        _ => x > 0 ? index - 1 : -1,
    };

    internal ProcessingElement? Neighbor(ProcessingElement pe, Direction d)
    {
        var index = NeighborIndex(pe.Index, pe.X, pe.Y, d);
        return index < 0 ? null : _pes[index];
    }

    /// <summary>Installs routes and code, then checks that every route lands somewhere that accepts it.</summary>
    private void Load(FabricLayout layout)
    {
        var routesByPe = new List<(int Color, ColorRoute Route)>?[Width * Height];
        foreach (var (x, y, color, route) in layout.Routes)
        {
            if (color < 0 || color >= Config.ColorCount)
                throw new FabricProgramException($"PE ({x},{y}): color {color} does not exist (the wafer has {Config.ColorCount} colors)");
            var problem = route.Problems(x, y, color).FirstOrDefault();
            if (problem is not null) throw new FabricProgramException(problem);
            (routesByPe[y * Width + x] ??= []).Add((color, route));
        }
        // Each PE's objects are allocated together, in row-major order, so a PE's state and its neighbours' sit
        // close in memory: the cycle loop is bound by memory latency, not arithmetic.
        for (var y = 0; y < Height; y++)
            for (var x = 0; x < Width; x++)
            {
                var pe = _pes[y * Width + x] = new ProcessingElement(Config, x, y, Width);
                if (routesByPe[pe.Index] is { } routes)
                    foreach (var (color, route) in routes) pe.SetRoute(color, route);
                var code = layout.CodeAt(x, y);
                if (code is null) continue;
                pe.Ce = new ComputeEngine(pe, code);
                pe.Ce.BindQueues();
                _withCe.Add(pe);
            }
        var neighbors = new ProcessingElement?[DirectionExtensions.LinkCount];
        foreach (var pe in _pes)
        {
            for (var d = 0; d < neighbors.Length; d++) neighbors[d] = Neighbor(pe, (Direction)d);
            pe.Connect(Links, neighbors);
        }
        var sram = _withCe.Sum(pe => (double)pe.Ce!.Sram.AllocatedBytes);
        HostMemory.Require(sram + _withCe.Count * (double)EngineHostBytesPerPe,
            $"simulating {_withCe.Count:N0} PEs with code", $"{HostMemory.Gb(sram)} of SRAM in use and ~{EngineHostBytesPerPe} bytes of engine state per PE", "use a smaller rectangle");
        foreach (var pe in _withCe) pe.Ce!.MaterializeSram();
        foreach (var pe in _pes)
        {
            if (pe.Channels is null) continue;
            foreach (var ch in pe.Channels)
            {
                if (ch is null) continue;
                var tx = ch.Route.AllTx;
                for (var d = 0; d < DirectionExtensions.LinkCount; d++)
                {
                    if (((int)tx & (1 << d)) == 0) continue;
                    var dir = (Direction)d;
                    var nb = Neighbor(pe, dir);
                    if (nb is null)
                        throw new FabricProgramException($"PE ({pe.X},{pe.Y}) color {ch.Color}: route sends {dir.ToString().ToUpperInvariant()} off the edge of the program rectangle");
                    var down = nb.Channel(ch.Color);
                    if (down?.In[(int)dir.Opposite()] is null)
                        throw new FabricProgramException(
                            $"PE ({pe.X},{pe.Y}) color {ch.Color}: route sends {dir.ToString().ToUpperInvariant()} but PE ({nb.X},{nb.Y}) has no route of color {ch.Color} accepting {dir.Opposite().ToString().ToUpperInvariant()}");
                    ch.Down[d] = down;
                }
                if ((tx & Ports.Ramp) != 0 && ch.CeIn is null)
                    throw new FabricProgramException($"PE ({pe.X},{pe.Y}) color {ch.Color}: route delivers to RAMP but no input queue is bound to color {ch.Color}");
                if ((ch.Route.AllRx & Ports.Ramp) != 0 && ch.In[(int)Direction.Ramp] is null)
                    throw new FabricProgramException($"PE ({pe.X},{pe.Y}) color {ch.Color}: route takes RAMP as input but no output queue is bound to color {ch.Color}");
            }
        }
    }

    /// <summary>Activates local task <paramref name="task"/> on every PE of the rectangle whose code binds it (the host's
    /// launch of an exported function); it is an error when no PE there binds it.</summary>
    public void Launch(int task, int x0 = 0, int y0 = 0, int width = -1, int height = -1)
    {
        if (width < 0) width = Width - x0;
        if (height < 0) height = Height - y0;
        Host.CheckRect(x0, y0, width, height, "launch");
        var launched = 0;
        for (var y = y0; y < y0 + height; y++)
            for (var x = x0; x < x0 + width; x++)
            {
                var pe = Pe(x, y);
                if (pe.Ce is null || !pe.Ce.Binds(task)) continue;
                pe.Ce.HostActivate(task);
                var band = _bands[pe.Band];
                band.ScheduleAt(pe.Index - band.FirstPe);
                launched++;
            }
        if (launched == 0) throw new FabricProgramException($"launch: no PE in the {width}x{height} rectangle at ({x0},{y0}) binds task {task}");
        Host.ChargeCommand();
    }

    /// <summary>Runs until nothing is pending (or a deadlock, violation, or the max-cycles guard). Returns the cycles this call took.</summary>
    public long Run() => RunCore(long.MaxValue);

    /// <summary>Runs cycles up to (not including) <paramref name="cycle"/>, or less if the fabric goes quiet first; for
    /// observing state at a given cycle (tests, debuggers). Returns the cycles this call took.</summary>
    public long RunUntil(long cycle) => RunCore(cycle);

    private long RunCore(long untilCycle)
    {
        var start = Cycle;
        var allocated = GC.GetTotalAllocatedBytes(precise: false);
        var wall = Stopwatch.StartNew();
        foreach (var b in _bands) { b.Cycle = Cycle; b.Error = null; }
        var barrier = new SpinBarrier(_bands.Length);
        var state = new RunState { Cycle = Cycle, Until = untilCycle, Wall = wall, WallBefore = WallSeconds };
        var workers = new Thread[_bands.Length - 1];
        for (var i = 1; i < _bands.Length; i++)
        {
            var band = _bands[i];
            workers[i - 1] = new Thread(() => BandLoop(band, barrier, state), 16 * 1024 * 1024) { IsBackground = true, Name = $"wafer-band-{i}" };
            workers[i - 1].Start();
        }
        BandLoop(_bands[0], barrier, state);
        foreach (var w in workers) w.Join();
        WallSeconds += wall.Elapsed.TotalSeconds;
        AllocatedBytesInRun += GC.GetTotalAllocatedBytes(precise: false) - allocated;
        Cycle = state.Cycle;
        foreach (var pe in _withCe) pe.Ce!.CloseWaits(Cycle);
        if (state.Failure is not null) throw state.Failure;
        if (!state.Paused) CheckQuiescent();
        return Cycle - start;
    }

    private sealed class RunState
    {
        public long Cycle;
        public bool Done;
        public long IdleStreak;
        public long Until;
        public bool Paused;
        public Exception? Failure;
        public Stopwatch Wall = null!;
        public double WallBefore;
    }

    private void BandLoop(Band band, SpinBarrier barrier, RunState state)
    {
        var leader = band.Id == 0;
        while (true)
        {
            var t = band.Cycle;
            band.Moves = 0;
            band.ArriveSlot = Links.SlotOf(t);
            band.SendSlot = Links.SlotOf(t + Links.LatencyCycles);
            var first = band.FirstPe;
            // The band's listed PEs in memory order; each steps once (the set holds a PE once however often it was
            // woken), even when a neighbour stepped earlier in this cycle has already woken it for t + 1.
            foreach (var local in band.Active.Drain())
            {
                var pe = _pes[first + local];
                band.Steps++;
                band.Timers.Cancel(local);
                if (pe.BlockedAsleep) { pe.BlockedAsleep = false; band.BlockedSleepers--; }
                try
                {
                    var next = pe.Step(t, band);
                    if (next == t + 1) band.Next.Add(local);
                    else if (next != long.MaxValue) band.Timers.Add(local, next, t);
                    else if (pe.NonEmpty != 0) { pe.BlockedAsleep = true; band.BlockedSleepers++; }
                }
                catch (Exception e) when (e is WaferInputException)
                {
                    if (band.Error is null || pe.Index < band.ErrorPe!.Index) { band.Error = e; band.ErrorPe = pe; }
                }
            }
            barrier.SignalAndWait();
            // Take in wake-ups other bands made for this band's PEs.
            foreach (var other in _bands)
            {
                var list = other.CrossWakes[band.Id];
                foreach (var local in list) band.Next.Add(local);
                list.Clear();
            }
            barrier.SignalAndWait();
            if (leader) Decide(state, t);
            barrier.SignalAndWait();
            if (state.Done && !state.Paused) { band.Active.Clear(); break; }
            var nextCycle = state.Cycle;
            band.Cycle = nextCycle;
            (band.Active, band.Next) = (band.Next, band.Active);
            band.Next.Clear();
            band.Timers.PopDue(nextCycle, band);
            if (state.Done) break;
        }
    }

    /// <summary>Leader only, between barriers: the next cycle to simulate, or stop.</summary>
    private void Decide(RunState state, long t)
    {
        if (_options.Progress is { } progress)
        {
            var seconds = state.WallBefore + state.Wall.Elapsed.TotalSeconds;
            if (seconds >= _nextProgressSeconds)
            {
                _nextProgressSeconds = seconds + _options.ProgressIntervalSeconds;
                progress(t, seconds);
            }
        }
        Band? failed = null;
        foreach (var b in _bands)
            if (b.Error is not null && (failed is null || b.ErrorPe!.Index < failed.ErrorPe!.Index)) failed = b;
        if (failed is not null) { state.Failure = failed.Error; state.Done = true; state.Cycle = t + 1; return; }

        long moves = 0, nextActive = 0, busyUntil = 0, blocked = 0;
        var timed = false;
        foreach (var b in _bands)
        {
            moves += b.Moves;
            nextActive += b.Next.Count;
            blocked += b.BlockedSleepers;
            timed |= b.Timers.Any;
            busyUntil = Math.Max(busyUntil, b.MaxBusyUntil);
        }
        var nextTimer = long.MaxValue;
        if (nextActive == 0 && timed) foreach (var b in _bands) nextTimer = Math.Min(nextTimer, b.Timers.NextDue(t));
        // PEs asleep on blocked wavelets are pending work: with nothing else to run, the cycles still go by one at a
        // time (none of them steps a PE) until the deadlock window closes.
        if (nextActive == 0 && nextTimer == long.MaxValue && blocked == 0)
        {
            // Quiet: the run ends when the last compute engine finishes its last op.
            state.Done = true;
            state.Cycle = Math.Max(t + 1, _bands.Max(b => b.MaxBusyUntil));
            if (state.Cycle > _options.MaxCycles) state.Failure = MaxCyclesError(state.Cycle);
            return;
        }
        // No data movement and no compute while work is pending, and no timed work ahead: deadlock. A compute engine
        // still inside a long op counts as compute even when its PE is polled every cycle (a router backlog keeps it
        // active instead of on the timer wheel).
        state.IdleStreak = moves == 0 && !timed && busyUntil <= t + 1 ? state.IdleStreak + 1 : 0;
        if (state.IdleStreak >= Config.DeadlockWindowCycles)
        {
            state.Failure = new DeadlockException(DeadlockReport(t + 1, $"no data movement or compute for {Config.DeadlockWindowCycles} cycles"));
            state.Done = true;
            state.Cycle = t + 1;
            return;
        }
        var next = nextActive > 0 || nextTimer == long.MaxValue ? t + 1 : nextTimer;
        if (next >= state.Until)
        {
            // Pause: PEs due later stay in their lists; the next Run resumes exactly here.
            state.Paused = true;
            state.Done = true;
            state.Cycle = state.Until;
            return;
        }
        if (next > _options.MaxCycles)
        {
            state.Failure = MaxCyclesError(next);
            state.Done = true;
            state.Cycle = _options.MaxCycles;
            return;
        }
        state.Cycle = next;
    }

    /// <summary>Host seconds (over all runs) at which the next progress call is due: the first after one interval.</summary>
    private double _nextProgressSeconds;

    private MaxCyclesException MaxCyclesError(long cycle) =>
        new($"the run passed its max-cycles guard of {_options.MaxCycles} cycles (at cycle {cycle}); raise --max-cycles if this is expected");

    private void CheckQuiescent()
    {
        if (_withCe.Any(pe => pe.Ce!.IsStuck))
            throw new DeadlockException(DeadlockReport(Cycle, "the fabric went quiet with work left"));
    }

    private string DeadlockReport(long cycle, string why)
    {
        var stuck = new List<string>();
        var count = 0;
        foreach (var pe in _pes)
        {
            var parts = pe.StuckRouterState().Concat(pe.Ce?.StuckState() ?? []).ToList();
            if (parts.Count == 0) continue;
            count++;
            if (stuck.Count < 6) stuck.Add($"PE ({pe.X},{pe.Y}): {string.Join(", ", parts)}");
        }
        return $"deadlock at cycle {cycle}: {why}; {count} PEs stuck: {string.Join("; ", stuck)}{(count > stuck.Count ? "; ..." : "")}";
    }

    internal IEnumerable<TraceEvent> TraceEvents() =>
        _bands.SelectMany(b => b.Trace.Events).OrderBy(e => e.Cycle).ThenBy(e => e.Pe).ThenBy(e => e.Phase == 'E' ? 0 : 1);

    /// <summary>The Chrome/Perfetto trace of the watched PEs (empty trace when none are watched).</summary>
    public string TraceJson() => TraceBuffer.ToChromeJson(TraceEvents(), Config.ClockHz);
}

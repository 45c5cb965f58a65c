// Whole-run and per-PE statistics gathered from the simulator's plain counters after a run.
using System.Reflection;
using Wafer.Fabric.Engine;

namespace Wafer.Fabric.Stats;

public sealed class RunStats
{
    public required string WaferName { get; init; }
    public required int Width { get; init; }
    public required int Height { get; init; }
    public required int Threads { get; init; }
    public required long Cycles { get; init; }
    public required double ClockHz { get; init; }
    public required double HostIoSeconds { get; init; }
    public required double WallSeconds { get; init; }
    public required long PeakRssBytes { get; init; }
    public required long BusyPeCycles { get; init; }
    public required long StallPeCycles { get; init; }
    /// <summary>PE-cycles the datapath waited on SRAM bank conflicts (not counted busy).</summary>
    public required long MemoryStallPeCycles { get; init; }
    public required long Flops { get; init; }
    public required long WaveletsForwarded { get; init; }
    public required long[] LinkWavelets { get; init; }
    public required long MaxSramBytesPerPe { get; init; }
    public required long TotalSramBytes { get; init; }
    public required long TasksStarted { get; init; }
    public required long PeSteps { get; init; }
    public required int PeakFlopsPerPeCycle { get; init; }
    /// <summary>Busy cycles per PE, row-major (for the heatmap and the per-PE CSV).</summary>
    public required long[] PeBusyCycles { get; init; }
    public required long[] PeStallCycles { get; init; }
    public required long[] PeMemoryStallCycles { get; init; }
    public required long[] PeWavelets { get; init; }
    public required long[] PeSramBytes { get; init; }
    /// <summary>Wavelets each PE's router sent per port (N, E, S, W, RAMP), PE-major.</summary>
    public required long[] PeLinkWavelets { get; init; }

    public long PeCount => (long)Width * Height;
    public double Seconds => Cycles / ClockHz;
    public double PeCycles => (double)PeCount * Cycles;
    public double Utilization => PeCycles == 0 ? 0 : BusyPeCycles / PeCycles;
    public double MemoryStallFraction => PeCycles == 0 ? 0 : MemoryStallPeCycles / PeCycles;

    /// <summary>Where one PE's cycles went, as a hardware profile splits them: busy, idle on memory (bank conflicts) and
    /// the rest idle (waiting on the fabric, on a task or done).</summary>
    public (double Busy, double IdleOnMemory, double IdleOther) Profile(int pe) => Cycles == 0 ? (0, 0, 0) :
        ((double)PeBusyCycles[pe] / Cycles, (double)PeMemoryStallCycles[pe] / Cycles,
         (double)(Cycles - PeBusyCycles[pe] - PeMemoryStallCycles[pe]) / Cycles);
    public double FractionOfPeakFlops => PeCycles == 0 ? 0 : Flops / (PeCycles * PeakFlopsPerPeCycle);
    public double PeCyclesPerHostSecond => WallSeconds == 0 ? 0 : PeCycles / WallSeconds;
    public double BusyPeCyclesPerHostSecond => WallSeconds == 0 ? 0 : BusyPeCycles / WallSeconds;

    public static string GitRevision =>
        typeof(RunStats).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion is { } v && v.Contains('+')
            ? v[(v.IndexOf('+') + 1)..]
            : "unknown";

    public static RunStats Collect(Simulator sim)
    {
        var n = sim.Width * sim.Height;
        long busy = 0, stall = 0, memoryStall = 0, flops = 0, forwarded = 0, maxSram = 0, totalSram = 0, tasks = 0;
        var links = new long[5];
        var peBusy = new long[n];
        var peStall = new long[n];
        var peMemoryStall = new long[n];
        var peWavelets = new long[n];
        var peSram = new long[n];
        var peLinks = new long[n * 5];
        foreach (var pe in sim.AllPes)
        {
            forwarded += pe.WaveletsForwarded;
            peWavelets[pe.Index] = pe.WaveletsForwarded;
            for (var p = 0; p < 5; p++) { links[p] += pe.WaveletsOutByPort[p]; peLinks[pe.Index * 5 + p] = pe.WaveletsOutByPort[p]; }
            if (pe.Ce is not { } ce) continue;
            busy += ce.BusyCycles;
            stall += ce.StallCycles;
            memoryStall += ce.MemoryStallCycles;
            peMemoryStall[pe.Index] = ce.MemoryStallCycles;
            flops += ce.Flops;
            tasks += ce.TasksStarted;
            peBusy[pe.Index] = ce.BusyCycles;
            peStall[pe.Index] = ce.StallCycles;
            peSram[pe.Index] = ce.Sram.AllocatedBytes;
            maxSram = Math.Max(maxSram, ce.Sram.AllocatedBytes);
            totalSram += ce.Sram.AllocatedBytes;
        }
        return new RunStats
        {
            WaferName = sim.Config.Name, Width = sim.Width, Height = sim.Height, Threads = sim.Threads,
            Cycles = sim.Cycle, ClockHz = sim.Config.ClockHz, HostIoSeconds = sim.Host.Seconds, WallSeconds = sim.WallSeconds,
            PeakRssBytes = PeakRss(), BusyPeCycles = busy, StallPeCycles = stall, MemoryStallPeCycles = memoryStall, Flops = flops, WaveletsForwarded = forwarded,
            LinkWavelets = links, MaxSramBytesPerPe = maxSram, TotalSramBytes = totalSram, TasksStarted = tasks, PeSteps = sim.PeSteps,
            PeakFlopsPerPeCycle = sim.Config.PeakFlopsPerPeCycle,
            PeBusyCycles = peBusy, PeStallCycles = peStall, PeMemoryStallCycles = peMemoryStall, PeWavelets = peWavelets, PeSramBytes = peSram, PeLinkWavelets = peLinks,
        };
    }

    /// <summary>Peak resident set (VmHWM) of this process in bytes; 0 where /proc is unavailable.</summary>
    public static long PeakRss()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line[6..].Trim().Split(' ')[0]) * 1024;
        }
        catch (IOException) { }
        return Environment.WorkingSet;
    }

    /// <summary>The whole-run statistics with units and meanings.</summary>
    public IReadOnlyList<Stat> Summary() =>
    [
        new("cycles", "cycles", "simulated clock cycles of the fabric run", Cycles),
        new("seconds", "s", "cycles at the configured clock", Seconds),
        new("hostIoSeconds", "s", "modelled host link time of memcpy and launch commands", HostIoSeconds),
        new("pes", "PEs", "PEs in the program rectangle", PeCount),
        new("peCycles", "PE-cycles", "PEs x cycles simulated", PeCycles),
        new("busyPeCycles", "PE-cycles", "cycles in which a compute engine executed an op or started a task, summed over PEs", BusyPeCycles),
        new("stallPeCycles", "op-cycles", "cycles started ops waited on fabric queues or FIFOs, summed over ops", StallPeCycles),
        new("memoryStallPeCycles", "PE-cycles", "cycles a compute engine waited on SRAM bank conflicts with nothing else moving (idle on memory), summed over PEs", MemoryStallPeCycles),
        new("utilization", "fraction", "busyPeCycles / peCycles", Utilization),
        new("memoryStallFraction", "fraction", "memoryStallPeCycles / peCycles", MemoryStallFraction),
        new("flops", "flop", "floating-point operations executed (FMAC = 2)", Flops),
        new("fractionOfPeakFlops", "fraction", "flops / (peCycles x peak flop per PE-cycle)", FractionOfPeakFlops),
        new("waveletsForwarded", "wavelets", "wavelets that left a router buffer (all ports)", WaveletsForwarded),
        new("linkWaveletsNorth", "wavelets", "wavelets sent on northward links", LinkWavelets[0]),
        new("linkWaveletsEast", "wavelets", "wavelets sent on eastward links", LinkWavelets[1]),
        new("linkWaveletsSouth", "wavelets", "wavelets sent on southward links", LinkWavelets[2]),
        new("linkWaveletsWest", "wavelets", "wavelets sent on westward links", LinkWavelets[3]),
        new("rampWaveletsDelivered", "wavelets", "wavelets delivered by routers to their compute engines", LinkWavelets[4]),
        new("tasksStarted", "tasks", "tasks the task pickers started", TasksStarted),
        new("maxSramBytesPerPe", "B", "largest SRAM allocation on one PE", MaxSramBytesPerPe),
        new("totalSramBytes", "B", "SRAM allocated over all PEs", TotalSramBytes),
        new("peSteps", "PE-steps", "PE-cycles the engine actually stepped (idle and sleeping PEs are skipped)", PeSteps),
        new("wallSeconds", "s", "host wall-clock time inside the simulator's run loop", WallSeconds),
        new("peCyclesPerHostSecond", "PE-cycles/s", "peCycles / wallSeconds", PeCyclesPerHostSecond),
        new("busyPeCyclesPerHostSecond", "PE-cycles/s", "busyPeCycles / wallSeconds", BusyPeCyclesPerHostSecond),
        new("peakRssBytes", "B", "peak resident memory of the host process", PeakRssBytes),
        new("threads", "threads", "worker threads stepping the fabric", Threads),
    ];
}

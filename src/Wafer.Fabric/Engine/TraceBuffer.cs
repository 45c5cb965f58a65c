// Opt-in trace of watched PEs: wavelet arrivals/departures and task spans, written as Chrome/Perfetto JSON.
using System.Text;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Fabric.Engine;

internal readonly record struct TraceEvent(long Cycle, int Pe, int X, int Y, char Phase, string Name, string Args, long DurationCycles = 0);

internal sealed class TraceBuffer
{
    public readonly List<TraceEvent> Events = [];
    /// <summary>Colors to trace (bit mask); all when 0.</summary>
    public uint ColorMask;
    public int Limit = 1_000_000;

    public void Wavelet(long t, ProcessingElement pe, Wavelet w, string what, Direction d)
    {
        if (ColorMask != 0 && (ColorMask & (1u << w.Color)) == 0) return;
        if (Events.Count >= Limit) return;
        Events.Add(new TraceEvent(t, pe.Index, pe.X, pe.Y, 'i', $"{what} C{w.Color}",
            $"\"dir\":\"{d}\",\"payload\":\"0x{w.Payload:x8}\",\"control\":{(w.IsControl ? "true" : "false")}"));
    }

    /// <summary>An instruction issued by the main thread (a DSD op with its kind, type and length, or a control op), as a
    /// span of the cycles it keeps the compute engine busy.</summary>
    public void Op(long t, ProcessingElement pe, string what, long cycles)
    {
        if (Events.Count < Limit) Events.Add(new TraceEvent(t, pe.Index, pe.X, pe.Y, 'X', what, $"\"cycles\":{cycles}", Math.Max(1, cycles)));
    }

    public void TaskStart(long t, ProcessingElement pe, int task)
    {
        if (Events.Count < Limit) Events.Add(new TraceEvent(t, pe.Index, pe.X, pe.Y, 'B', $"task {task}", ""));
    }

    public void TaskEnd(long t, ProcessingElement pe, int task)
    {
        if (Events.Count < Limit) Events.Add(new TraceEvent(t, pe.Index, pe.X, pe.Y, 'E', $"task {task}", ""));
    }

    /// <summary>Chrome/Perfetto trace JSON, one track per PE named "PE (x, y)". Trace time is in microseconds, so one
    /// simulated cycle is written as one microsecond (the process name says so; clockHz converts to real time).</summary>
    public static string ToChromeJson(IEnumerable<TraceEvent> events, double clockHz)
    {
        var list = events.ToList();
        var sb = new StringBuilder("{\"traceEvents\":[\n");
        sb.Append(System.Globalization.CultureInfo.InvariantCulture,
            $"{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":0,\"args\":{{\"name\":\"wafer fabric (1 us on this timeline = 1 simulated cycle = {1e9 / clockHz:0.###} ns at {clockHz / 1e6:0.#} MHz)\"}}}}");
        foreach (var pe in list.GroupBy(e => e.Pe).Select(g => g.First()).OrderBy(e => e.Pe))
        {
            sb.Append($",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":{pe.Pe},\"args\":{{\"name\":\"PE ({pe.X}, {pe.Y})\"}}}}");
            sb.Append($",\n{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":0,\"tid\":{pe.Pe},\"args\":{{\"sort_index\":{pe.Pe}}}}}");
        }
        foreach (var e in list)
        {
            sb.Append($",\n{{\"name\":\"{e.Name}\",\"ph\":\"{e.Phase}\",\"ts\":{e.Cycle},\"pid\":0,\"tid\":{e.Pe}");
            if (e.Phase == 'i') sb.Append(",\"s\":\"t\"");
            if (e.Phase == 'X') sb.Append($",\"dur\":{e.DurationCycles}");
            sb.Append($",\"args\":{{\"pe\":\"({e.X},{e.Y})\",\"cycle\":{e.Cycle}{(e.Args.Length > 0 ? "," + e.Args : "")}}}}}");
        }
        sb.Append("\n],\"otherData\":{\"timeUnit\":\"1 trace microsecond = 1 simulated cycle\"}}\n");
        return sb.ToString();
    }
}

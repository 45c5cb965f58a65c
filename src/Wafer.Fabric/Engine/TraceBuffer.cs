// Opt-in trace of watched PEs: wavelet arrivals/departures and task spans, written as Chrome/Perfetto JSON.
using System.Text;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Fabric.Engine;

internal readonly record struct TraceEvent(long Cycle, int Pe, int X, int Y, char Phase, string Name, string Args);

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

    /// <summary>An instruction issued by the main thread (a DSD op with its kind, type and length, or a control op).</summary>
    public void Op(long t, ProcessingElement pe, string what, long cycles)
    {
        if (Events.Count < Limit) Events.Add(new TraceEvent(t, pe.Index, pe.X, pe.Y, 'i', what, $"\"cycles\":{cycles}"));
    }

    public void TaskStart(long t, ProcessingElement pe, int task)
    {
        if (Events.Count < Limit) Events.Add(new TraceEvent(t, pe.Index, pe.X, pe.Y, 'B', $"task {task}", ""));
    }

    public void TaskEnd(long t, ProcessingElement pe, int task)
    {
        if (Events.Count < Limit) Events.Add(new TraceEvent(t, pe.Index, pe.X, pe.Y, 'E', $"task {task}", ""));
    }

    /// <summary>Chrome trace JSON; one cycle is shown as one microsecond; one track per PE.</summary>
    public static string ToChromeJson(IEnumerable<TraceEvent> events)
    {
        var sb = new StringBuilder("{\"traceEvents\":[\n");
        var first = true;
        foreach (var e in events)
        {
            if (!first) sb.Append(",\n");
            first = false;
            sb.Append($"{{\"name\":\"{e.Name}\",\"ph\":\"{e.Phase}\",\"ts\":{e.Cycle},\"pid\":0,\"tid\":{e.Pe}");
            if (e.Phase == 'i') sb.Append(",\"s\":\"t\"");
            sb.Append($",\"args\":{{\"pe\":\"({e.X},{e.Y})\"{(e.Args.Length > 0 ? "," + e.Args : "")}}}}}");
        }
        sb.Append("\n],\"displayTimeUnit\":\"ns\"}\n");
        return sb.ToString();
    }
}

// What a PE runs (CSL's @set_tile_code): symbols, task bindings, queue bindings, FIFOs. Many PEs may share one PeCode.
namespace Wafer.Fabric.Pe;

public enum TaskKind : byte { None, Data, Local, Control }

internal sealed record TaskDef(TaskKind Kind, Action<TaskContext> Body, bool HighPriority, int Color);

internal sealed record SymbolDef(string Name, int Bytes, float[]? InitialF32);

internal sealed record FifoDef(int Id, int Capacity, int ActivateOnPushTask);

public sealed class PeCode(string name)
{
    public const int MaxQueues = 16;
    public string Name { get; } = name;
    internal List<SymbolDef> Symbols { get; } = [];
    internal TaskDef?[] Tasks { get; } = new TaskDef?[64];
    internal HashSet<int> BlockedAtStart { get; } = [];
    internal int[] InputQueueColor { get; } = Enumerable.Repeat(-1, MaxQueues).ToArray();
    internal int[] OutputQueueColor { get; } = Enumerable.Repeat(-1, MaxQueues).ToArray();
    internal List<FifoDef> Fifos { get; } = [];

    /// <summary>Reserves <paramref name="bytes"/> of SRAM under <paramref name="symbol"/> (CSL global array + @export_symbol).</summary>
    public PeCode Symbol(string symbol, int bytes) { Symbols.Add(new SymbolDef(symbol, bytes, null)); return this; }
    public PeCode SymbolF32(string symbol, int count) => Symbol(symbol, count * 4);
    public PeCode SymbolF32(string symbol, float[] initial) { Symbols.Add(new SymbolDef(symbol, initial.Length * 4, initial)); return this; }
    public PeCode SymbolF16(string symbol, int count) => Symbol(symbol, count * 2);

    /// <summary>A wavelet-triggered task on <paramref name="color"/>; on WSE-2 its task ID is the color (docs/sources.md §2.7).</summary>
    public PeCode DataTask(int color, Action<TaskContext> body, bool highPriority = false) =>
        Bind(color, new TaskDef(TaskKind.Data, body, highPriority, color));

    /// <summary>A task started by @activate, by an async op completing, or by the host's launch.</summary>
    public PeCode LocalTask(int id, Action<TaskContext> body, bool highPriority = false) =>
        Bind(id, new TaskDef(TaskKind.Local, body, highPriority, -1));

    /// <summary>A task run when a control wavelet carrying its ID reaches this PE's compute engine.</summary>
    public PeCode ControlTask(int id, Action<TaskContext> body) => Bind(id, new TaskDef(TaskKind.Control, body, false, -1));

    public PeCode BlockAtStart(int taskId) { BlockedAtStart.Add(taskId); return this; }

    /// <summary>Binds input queue <paramref name="queue"/> to a color: wavelets the router sends to RAMP on that color land there (@initialize_queue).</summary>
    public PeCode InputQueue(int queue, int color) { CheckQueue(queue); InputQueueColor[queue] = color; return this; }

    /// <summary>Binds output queue <paramref name="queue"/> to a color: fabout DSDs on that queue feed the router's RAMP input.</summary>
    public PeCode OutputQueue(int queue, int color) { CheckQueue(queue); OutputQueueColor[queue] = color; return this; }

    /// <summary>A FIFO of fp32 elements (@allocate_fifo); optionally activates a local task whenever an element is pushed.</summary>
    public PeCode Fifo(int id, int capacity, int activateOnPushTask = -1) { Fifos.Add(new FifoDef(id, capacity, activateOnPushTask)); return this; }

    private SymbolTable? _symbols;

    /// <summary>Symbol addresses, laid out once and shared by every PE running this code (allocation is deterministic).</summary>
    internal SymbolTable Layout(int x, int y, int usableBytes)
    {
        if (_symbols is { } t && t.UsableBytes == usableBytes) return t;
        var table = new SymbolTable(usableBytes);
        foreach (var s in Symbols) table.Allocate(s.Name, s.Bytes, x, y);
        return _symbols = table;
    }

    /// <summary>Byte address of <paramref name="symbol"/> on every PE running this code (the layout is deterministic), so task
    /// bodies can capture addresses instead of looking symbols up on every call.</summary>
    public int AddressOf(string symbol)
    {
        var address = 0;
        foreach (var s in Symbols)
        {
            address = (address + 3) & ~3;
            if (s.Name == symbol) return address;
            address += s.Bytes;
        }
        throw new FabricProgramException($"PE code '{Name}': no symbol '{symbol}'");
    }

    private int[]? _inQueueOfColor;
    private int[]? _boundTasks;

    /// <summary>Task IDs with a body, ascending (shared by every PE running this code).</summary>
    internal int[] BoundTasks() => _boundTasks ??= Enumerable.Range(0, 64).Where(id => Tasks[id] is not null).ToArray();

    /// <summary>Input queue bound to each color (-1: none), shared by every PE running this code.</summary>
    internal int[] InputQueueOfColor() => _inQueueOfColor ??= MakeInputQueueOfColor();

    private int[] MakeInputQueueOfColor()
    {
        var map = Enumerable.Repeat(-1, 32).ToArray();
        for (var q = 0; q < MaxQueues; q++)
            if (InputQueueColor[q] is >= 0 and < 32 and var c)
            {
                if (map[c] >= 0) throw new FabricProgramException($"PE code '{Name}': color clash: color {c} is bound to input queues {map[c]} and {q}");
                map[c] = q;
            }
        return map;
    }

    private PeCode Bind(int id, TaskDef def)
    {
        if (id is < 0 or >= 64) throw new FabricProgramException($"PE code '{Name}': task ID {id} is outside 0..63");
        if (Tasks[id] is not null) throw new FabricProgramException($"PE code '{Name}': task ID {id} is bound twice ({Tasks[id]!.Kind} and {def.Kind})");
        Tasks[id] = def;
        return this;
    }

    private void CheckQueue(int queue)
    {
        if (queue is < 0 or >= MaxQueues) throw new FabricProgramException($"PE code '{Name}': queue ID {queue} is outside 0..{MaxQueues - 1}");
    }
}

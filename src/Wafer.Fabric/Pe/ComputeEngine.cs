// A PE's compute engine (CE): task picker, main thread, microthreads, queues, SRAM (docs/sources.md §2.6-2.7).
// Cost model (docs/architecture.md): a DSD op on memory operands takes startup + ceil(n / width) cycles and is
// evaluated in one go (exact, since nothing outside the PE can observe it); an op with a fabric or FIFO operand moves
// one element per cycle when its queues allow, and waits (stalls) otherwise.
using System.Numerics;
using System.Runtime.InteropServices;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Routing;

namespace Wafer.Fabric.Pe;

internal sealed partial class ComputeEngine
{
    /// <summary>An async op running on a microthread (it keeps its own copy of the op).</summary>
    private struct Microthread
    {
        public bool Active;
        public Op Op;
        public int Next;
        /// <summary>The earliest cycle its next element could move; a move later than that counts as stall cycles.</summary>
        public long ReadyAt;
    }

    private readonly ProcessingElement _pe;
    private readonly WaferConfig _cfg;
    private readonly PeCode _code;
    public readonly Sram Sram;

    private ulong _activated, _blocked;
    private readonly int[] _boundTasks;
    private readonly int[] _inQueueOfColor;
    private readonly WaveletFifo?[] _inQueues;
    private readonly WaveletFifo?[] _outQueues;
    private readonly FifoBuffer?[]? _fifos;
    private EdgePort?[]? _ports;

    private readonly List<Op> _ops = new(2);
    private int _opHead;
    private int _insertAt = -1;
    internal int IssuedThisCall;
    private int _currentTask = -1;
    private uint _currentArg;
    private long _busyUntil;
    private long _issueWaitSince = -1;
    // The main thread's streaming op stays in _ops at index _mainOp while it runs.
    private bool _mainActive;
    private int _mainOp, _mainNext;
    private long _mainReadyAt;
    private Microthread[]? _uts;
    private int _activeUts;
    /// <summary>Bit u set while microthread u runs (visiting only those: a Microthread holds a whole op).</summary>
    private uint _activeMask;
    private long _lastBusyCycle = -1;
    // The execute register in front of each output queue (ExecuteLatencyCycles = 1): a result produced in cycle t waits
    // here and enters its queue at the start of t + 1 (or later, behind a full queue), so it is delayed a cycle without
    // holding a queue slot longer; the op may produce its next result while it waits.
    private Wavelet[]? _executeRegister;
    private uint _executeMask;
    // The cycles [from, to) of the last memory op that its bank conflict added: the pipeline waits on SRAM there.
    private long _memoryStallFrom, _memoryStallTo;

    // Stats
    internal long BusyCycles, StallCycles, Flops, TasksStarted;
    /// <summary>Cycles the datapath waited on SRAM (bank conflicts) with nothing else moving: the hardware profile's
    /// "idle from memory accesses" (a read conflict is a pipeline stall at stage 5, docs/sources.md §2.1).</summary>
    internal long MemoryStallCycles;

    public ComputeEngine(ProcessingElement pe, PeCode code)
    {
        _pe = pe;
        _cfg = pe.Config;
        _code = code;
        var table = code.Layout(pe.X, pe.Y, _cfg.UsableSramBytesPerPe);
        Sram = new Sram(pe.X, pe.Y, table);
        _inQueueOfColor = code.InputQueueOfColor();
        _boundTasks = code.BoundTasks();
        foreach (var id in _boundTasks)
        {
            var def = code.Tasks[id]!;
            if (id >= _cfg.TaskIdCount) throw new FabricProgramException($"PE ({pe.X},{pe.Y}): task ID {id} exceeds the wafer's {_cfg.TaskIdCount} task IDs");
            if (def.Kind == TaskKind.Data && def.Color >= _cfg.ColorCount)
                throw new FabricProgramException($"PE ({pe.X},{pe.Y}): data task on color {def.Color}, but the wafer has {_cfg.ColorCount} colors");
        }
        foreach (var id in code.BlockedAtStart) _blocked |= 1UL << id;
        _inQueues = new WaveletFifo?[_cfg.InputQueueDepthWords.Length];
        _outQueues = new WaveletFifo?[_cfg.OutputQueueDepthWords.Length];
        if (code.Fifos.Count > 0)
        {
            _fifos = new FifoBuffer?[PeCode.MaxQueues];
            foreach (var f in code.Fifos)
            {
                if (f.Id is < 0 or >= PeCode.MaxQueues || _fifos[f.Id] is not null || f.Capacity < 1)
                    throw new FabricProgramException($"PE ({pe.X},{pe.Y}): FIFO {f.Id} is out of range, declared twice, or has no capacity");
                _fifos[f.Id] = new FifoBuffer(f.Capacity, f.ActivateOnPushTask);
            }
        }
    }

    public int X => _pe.X;
    public int Y => _pe.Y;
    public int CurrentTask => _currentTask;
    internal int InputQueueCount(int q) => q >= 0 && q < _inQueues.Length ? _inQueues[q]?.Count ?? 0 : 0;
    private bool Activated(int id) => (_activated & (1UL << id)) != 0;
    private bool Blocked(int id) => (_blocked & (1UL << id)) != 0;

    /// <summary>Allocates SRAM and writes the symbols' initial values (second pass of loading).</summary>
    internal void MaterializeSram()
    {
        Sram.Materialize();
        foreach (var s in _code.Symbols)
            if (s.InitialF32 is not null) s.InitialF32.CopyTo(Sram.F32(Sram.Symbol(s.Name).Address, s.InitialF32.Length));
    }

    /// <summary>Binds queues to the router's channels; called once routes are known.</summary>
    public void BindQueues()
    {
        for (var q = 0; q < PeCode.MaxQueues; q++)
        {
            var color = _code.InputQueueColor[q];
            if (color >= 0)
            {
                CheckQueueColor(q, color, "input");
                if (q >= _inQueues.Length)
                    throw new FabricProgramException($"PE ({X},{Y}): input queue {q} does not exist (the wafer has {_inQueues.Length})");
                _inQueues[q] = new WaveletFifo(_cfg.InputQueueDepthWords[q]);
                var ch = _pe.Channel(color);
                if (ch is not null && (ch.Route.AllTx & Ports.Ramp) != 0) ch.CeIn = _inQueues[q];
            }
            color = _code.OutputQueueColor[q];
            if (color >= 0)
            {
                CheckQueueColor(q, color, "output");
                var depth = q < _outQueues.Length ? _cfg.OutputQueueDepthWords[q] : 0;
                if (depth == 0) throw new FabricProgramException($"PE ({X},{Y}): output queue {q} does not exist on this wafer (docs/sources.md §2.6)");
                var ch = _pe.Channel(color);
                if (ch is null || (ch.Route.AllRx & Ports.Ramp) == 0)
                    throw new FabricProgramException($"PE ({X},{Y}): output queue {q} is bound to color {color}, but no route of color {color} takes RAMP as input");
                if (ch.In[(int)Direction.Ramp] is not null)
                    throw new FabricProgramException($"PE ({X},{Y}): color clash: color {color} is bound to two output queues");
                ch.In[(int)Direction.Ramp] = _outQueues[q] = new WaveletFifo(depth);
            }
        }
        foreach (var id in _boundTasks)
        {
            var def = _code.Tasks[id]!;
            if (def.Kind == TaskKind.Data && _inQueueOfColor[def.Color] < 0)
                throw new FabricProgramException($"PE ({X},{Y}): data task on color {def.Color} but no input queue is bound to color {def.Color}");
        }
    }

    private void CheckQueueColor(int q, int color, string kind)
    {
        if (color >= _cfg.ColorCount)
            throw new FabricProgramException($"PE ({X},{Y}): {kind} queue {q} bound to color {color}, but the wafer has {_cfg.ColorCount} colors");
    }

    internal WaveletFifo InQueue(int q, int color)
    {
        var f = q >= 0 && q < _inQueues.Length ? _inQueues[q] : null;
        if (f is null || _inQueueOfColor[color] != q)
            throw new FabricProgramException($"PE ({X},{Y}): fabin DSD uses input queue {q} for color {color}, but that queue is not bound to that color");
        return f;
    }

    internal WaveletFifo OutQueue(int q, int color)
    {
        var f = q >= 0 && q < _outQueues.Length ? _outQueues[q] : null;
        if (f is null || _code.OutputQueueColor[q] != color)
            throw new FabricProgramException($"PE ({X},{Y}): fabout DSD uses output queue {q} for color {color}, but that queue is not bound to that color");
        return f;
    }

    internal FifoBuffer Fifo(int id) =>
        (_fifos is not null && id is >= 0 and < PeCode.MaxQueues ? _fifos[id] : null)
        ?? throw new FabricProgramException($"PE ({X},{Y}): FIFO {id} is not declared");

    internal EdgePort Port(int id) =>
        (_ports is not null && id is >= 0 and < PeCode.MaxQueues ? _ports[id] : null)
        ?? throw new FabricProgramException($"PE ({X},{Y}): port {id} is not attached (HostIo.AttachPort)");

    /// <summary>Attaches (or replaces) off-wafer port <paramref name="id"/>: the host's side of an edge link.</summary>
    internal void AttachPort(int id, EdgePort port)
    {
        if (id is < 0 or >= PeCode.MaxQueues) throw new FabricProgramException($"PE ({X},{Y}): port {id} is outside 0..{PeCode.MaxQueues - 1}");
        _ports ??= new EdgePort?[PeCode.MaxQueues];
        _retiredPortValues += _ports[id]?.Moved ?? 0;
        _ports[id] = port;
    }

    /// <summary>Values moved through this PE's off-wafer ports since it was built, ports replaced since included.</summary>
    internal long PortValues => _retiredPortValues + (_ports?.Sum(p => (long)(p?.Moved ?? 0)) ?? 0);

    private long _retiredPortValues;

    // ---------------------------------------------------------------- issuing (called from TaskContext)

    internal void Issue(in Op op)
    {
        IssuedThisCall++;
        if (_insertAt >= 0) _ops.Insert(_insertAt++, op);
        else _ops.Add(op);
    }

    internal bool Binds(int task) => task is >= 0 and < 64 && _code.Tasks[task] is { Kind: TaskKind.Local };

    internal void HostActivate(int task)
    {
        if (task is < 0 or >= 64 || _code.Tasks[task] is null)
            throw new FabricProgramException($"PE ({X},{Y}): launch of task {task}, which is not bound on this PE");
        _activated |= 1UL << task;
    }

    // ---------------------------------------------------------------- the cycle

    /// <summary>Phase 3 of the cycle. Returns the next cycle this engine must run (long.MaxValue: only an arrival can wake it).</summary>
    public long Step(long t, Band band)
    {
        if (_executeMask != 0) FlushExecuteRegisters(t);
        for (var mask = _activeMask; mask != 0; mask &= mask - 1)
            StepMicrothread(ref _uts![BitOperations.TrailingZeroCount(mask)], t, band);

        for (var guard = 0; guard < 4; guard++)
        {
            if (t < _busyUntil) break;
            if (_mainActive) { StepMain(t, band); break; }
            if (_opHead < _ops.Count) { IssueNext(t, band); break; }
            if (_currentTask >= 0) { EndTask(t, band); continue; }
            StartTask(t, band);
            break;
        }
        RunAhead(t, band);
        // A task ends when its last op has been issued and has finished (at _busyUntil); the picker may start
        // the next task in that cycle.
        if (_currentTask >= 0 && !_mainActive && _opHead == _ops.Count) EndTask(Math.Max(t, _busyUntil), band);
        return NextWake(t, band);
    }

    /// <summary>Moves each waiting result into its output queue if the queue has room (a full queue keeps it waiting, and
    /// the op behind it stalls: the register is one more stage of buffering, like a stalled pipeline's).</summary>
    private void FlushExecuteRegisters(long t)
    {
        for (var mask = _executeMask; mask != 0; mask &= mask - 1)
        {
            var q = BitOperations.TrailingZeroCount(mask);
            var queue = _outQueues[q]!;
            if (queue.IsFull) continue;
            var w = _executeRegister![q];
            queue.Push(w, t + _cfg.RampLatencyCycles);
            _pe.RampInputPushed(w.Color);
            _executeMask &= ~(1u << q);
        }
    }

    /// <summary>Queues a fabric op's result: into its output queue now, or through the execute register next cycle.</summary>
    private void PushResult(int queue, Wavelet w, long t)
    {
        if (_cfg.ExecuteLatencyCycles == 0)
        {
            _outQueues[queue]!.Push(w, t + _cfg.RampLatencyCycles);
            _pe.RampInputPushed(w.Color);
            return;
        }
        _executeRegister ??= new Wavelet[_outQueues.Length];
        _executeRegister[queue] = w;
        _executeMask |= 1u << queue;
    }

    /// <summary>Cycles a single step may run the main thread ahead of the clock.</summary>
    private const long RunAheadHorizonCycles = 1 << 20;

    /// <summary>While the main thread only has memory-only DSD ops and task-control ops ahead and no microthread runs,
    /// nothing outside this PE can see or change what those ops do, so they are issued now at the cycles they would
    /// issue at (each at the previous one's end). The timing and results are those of stepping cycle by cycle; the PE
    /// just sleeps through them. A streaming or async op, or the end of the task, stops the run-ahead.</summary>
    private void RunAhead(long t, Band band)
    {
        while (!_mainActive && _activeUts == 0 && _opHead < _ops.Count && _busyUntil > t && _busyUntil - t < RunAheadHorizonCycles)
        {
            ref var op = ref CollectionsMarshal.AsSpan(_ops)[_opHead];
            if (op.Code == OpCode.Vector && (op.Async || IsStreaming(op))) return;
            IssueNext(_busyUntil, band);
        }
    }

    private void EndTask(long at, Band band)
    {
        if (_pe.Watched) band.Trace.TaskEnd(at, _pe, _currentTask);
        _currentTask = -1;
        _ops.Clear();
        if (_ops.Capacity > 16) _ops.Capacity = 4;
        _opHead = 0;
    }

    private void CountBusy(long from, long toExclusive)
    {
        var start = Math.Max(from, _lastBusyCycle + 1);
        if (toExclusive <= start) return;
        BusyCycles += toExclusive - start;
        _lastBusyCycle = toExclusive - 1;
        // A microthread that moves an element during a memory stall makes that cycle busy, not idle on memory.
        var overlap = Math.Min(toExclusive, _memoryStallTo) - Math.Max(start, _memoryStallFrom);
        if (overlap > 0) MemoryStallCycles -= overlap;
    }

    private void Busy(long t, long cycles)
    {
        _busyUntil = t + cycles;
        CountBusy(t, _busyUntil);
    }

    /// <summary>A memory op of `cycles` whose last `memoryStall` of them are the bank conflict's extra cycles: the
    /// engine is occupied for all of them but busy only for the rest.</summary>
    private void BusyWithMemoryStall(long t, long cycles, long memoryStall)
    {
        _busyUntil = t + cycles;
        CountBusy(t, _busyUntil - memoryStall);
        if (memoryStall == 0) return;
        _memoryStallFrom = Math.Max(_busyUntil - memoryStall, _lastBusyCycle + 1);
        _memoryStallTo = _busyUntil;
        MemoryStallCycles += _memoryStallTo - _memoryStallFrom;
    }

    private void StartTask(long t, Band band)
    {
        var id = PickTask(t, out var controlQueue);
        if (id == -2) { band.Moves++; return; } // dropped a control wavelet that names no task
        if (id < 0) return;
        var def = _code.Tasks[id]!;
        uint arg = 0;
        if (def.Kind == TaskKind.Data) arg = _inQueues[_inQueueOfColor[def.Color]]!.Pop().Payload;
        else if (def.Kind == TaskKind.Control) arg = _inQueues[controlQueue]!.Pop().Payload;
        else _activated &= ~(1UL << id);
        _currentTask = id;
        _currentArg = arg;
        TasksStarted++;
        band.Moves++;
        _ops.Clear();
        _opHead = 0;
        Busy(t, _cfg.TaskStartCycles);
        if (_pe.Watched) band.Trace.TaskStart(t, _pe, id);
        var ctx = band.Context;
        ctx.Begin(this, _pe, id, arg);
        def.Body(ctx);
        ctx.End();
    }

    /// <summary>The task picker: runnable = activated (or a visible wavelet for a data/control task) and unblocked;
    /// high priority first, then the lowest ID. Returns -1 for none, -2 when it dropped a control wavelet with no task.</summary>
    private int PickTask(long t, out int controlQueue)
    {
        controlQueue = -1;
        int best = -1;
        var bestHigh = false;
        foreach (var id in _boundTasks)
        {
            if (Blocked(id)) continue;
            var def = _code.Tasks[id]!;
            bool runnable = def.Kind switch
            {
                TaskKind.Local => Activated(id),
                TaskKind.Data => _inQueues[_inQueueOfColor[def.Color]] is { } q && q.HeadReady(t) && !q.Peek().IsControl,
                _ => false,
            };
            if (!runnable) continue;
            if (best < 0 || (def.HighPriority && !bestHigh)) { best = id; bestHigh = def.HighPriority; }
        }
        if (best >= 0) return best;
        // Control wavelets at the head of an input queue run their control task (or are dropped when none is bound).
        for (var q = 0; q < _inQueues.Length; q++)
        {
            var f = _inQueues[q];
            if (f is null || !f.HeadReady(t) || !f.Peek().IsControl) continue;
            var id = ControlPayload.TaskId(f.Peek().Payload);
            if (_code.Tasks[id] is { Kind: TaskKind.Control } && !Blocked(id)) { controlQueue = q; return id; }
            if (id == ControlPayload.NoTask || _code.Tasks[id] is null) { f.Pop(); return -2; }
        }
        return -1;
    }

    private bool HasRunnableTask(long t)
    {
        foreach (var id in _boundTasks)
        {
            if (Blocked(id)) continue;
            var def = _code.Tasks[id]!;
            if (def.Kind == TaskKind.Local && Activated(id)) return true;
            if (def.Kind == TaskKind.Data && _inQueues[_inQueueOfColor[def.Color]]!.HeadReady(t)) return true;
        }
        for (var q = 0; q < _inQueues.Length; q++)
            if (_inQueues[q] is { } f && f.HeadReady(t) && f.Peek().IsControl) return true;
        return false;
    }

    private void IssueNext(long t, Band band)
    {
        ref var op = ref CollectionsMarshal.AsSpan(_ops)[_opHead];
        // Described before it runs: a continuation may drop the finished ops (the list can be empty afterwards; reading
        // it back crashed traced runs of loops that end in a Then).
        var traced = _pe.Watched ? Describe(op) : null;
        switch (op.Code)
        {
            case OpCode.Vector when op.Async:
            {
                var ut = MicrothreadOf(op);
                _uts ??= new Microthread[PeCode.MaxQueues];
                if (_uts[ut].Active)
                {
                    if (_issueWaitSince < 0) _issueWaitSince = t;
                    return;
                }
                if (_issueWaitSince >= 0) { StallCycles += t - _issueWaitSince; _issueWaitSince = -1; }
                _uts[ut] = new Microthread { Active = true, Op = op, Next = 0, ReadyAt = t + 1 };
                _activeUts++;
                _activeMask |= 1u << ut;
                _opHead++;
                Busy(t, 1);
                break;
            }
            case OpCode.Vector:
                if (IsStreaming(op))
                {
                    _mainActive = true;
                    _mainOp = _opHead;
                    _mainNext = 0;
                    _opHead++;
                    Busy(t, _cfg.DsdOpStartupCycles);
                    _mainReadyAt = _busyUntil;
                }
                else
                {
                    _opHead++;
                    var (cycles, conflict) = RunMemoryOp(op);
                    BusyWithMemoryStall(t, _cfg.DsdOpStartupCycles + cycles, conflict);
                }
                break;
            case OpCode.Activate:
                _opHead++;
                _activated |= 1UL << op.TaskId;
                Busy(t, 1);
                break;
            case OpCode.Block:
            case OpCode.Unblock:
                _opHead++;
                if (op.Code == OpCode.Block) _blocked |= 1UL << op.TaskId;
                else _blocked &= ~(1UL << op.TaskId);
                Busy(t, 1);
                break;
            case OpCode.Scalar:
                _opHead++;
                Busy(t, op.Cycles);
                break;
            case OpCode.Then:
            {
                var then = op.Then!;
                _opHead++;
                Busy(t, op.Cycles);
                // Drop the ops already done so a loop written as a chain of continuations keeps a short list.
                if (!_mainActive) { _ops.RemoveRange(0, _opHead); _opHead = 0; }
                _insertAt = _opHead;
                var ctx = band.Context;
                ctx.Begin(this, _pe, _currentTask, _currentArg);
                then(ctx);
                ctx.End();
                _insertAt = -1;
                break;
            }
        }
        band.Moves++;
        if (traced is not null) band.Trace.Op(t, _pe, traced, _busyUntil - t);
    }

    private static string Describe(in Op op) => op.Code == OpCode.Vector
        ? $"{(op.Async ? "async " : "")}{op.Kind} {op.Type} x{op.Dst.Length} -> {op.Dst.Kind}"
        : op.Code is OpCode.Activate or OpCode.Block or OpCode.Unblock ? $"{op.Code} {op.TaskId}" : op.Code.ToString();

    private int MicrothreadOf(in Op op)
    {
        if (op.Dst.Kind == DsdKind.FabOut) return op.Dst.Queue;
        if (op.A.Kind == OperandKind.Dsd && op.A.Dsd.Kind == DsdKind.FabIn) return op.A.Dsd.Queue;
        if (op.B.Kind == OperandKind.Dsd && op.B.Dsd.Kind == DsdKind.FabIn) return op.B.Dsd.Queue;
        if (op.Dst.Kind == DsdKind.Fifo) return op.Dst.FifoId;
        if (op.A.Kind == OperandKind.Dsd && op.A.Dsd.Kind == DsdKind.Fifo) return op.A.Dsd.FifoId;
        throw new FabricProgramException($"PE ({X},{Y}): an async DSD op needs a fabric or FIFO operand (docs/sources.md §2.6)");
    }

    internal static bool IsStreaming(in Op op) =>
        !op.Dst.IsMemory || (op.A.Kind == OperandKind.Dsd && !op.A.Dsd.IsMemory) || (op.B.Kind == OperandKind.Dsd && !op.B.Dsd.IsMemory);

    /// <summary>One element of a streaming op if its queues allow; returns true when the op finished. The cycles between
    /// when the element could have moved (readyAt) and when it does are stall cycles, whether or not the engine was
    /// stepped in them (it sleeps while nothing can change).</summary>
    private bool StepStream(in Op op, ref int next, ref long readyAt, long t, Band band)
    {
        if (!CanStep(op, t)) return false;
        StallCycles += t - readyAt;
        readyAt = t + 1;
        StepElement(op, next, t);
        next++;
        Flops += VectorMath.FlopsPerElement(op.Kind);
        band.Moves++;
        CountBusy(t, t + 1);
        return next >= op.Dst.Length;
    }

    private void StepMain(long t, Band band)
    {
        ref var op = ref CollectionsMarshal.AsSpan(_ops)[_mainOp];
        if (!StepStream(op, ref _mainNext, ref _mainReadyAt, t, band)) return;
        _mainActive = false;
        _busyUntil = t + 1;
    }

    private void StepMicrothread(ref Microthread ut, long t, Band band)
    {
        if (!StepStream(ut.Op, ref ut.Next, ref ut.ReadyAt, t, band)) return;
        ut.Active = false;
        _activeUts--;
        _activeMask &= ~(1u << MicrothreadOf(ut.Op));
        if (ut.Op.OnDone.ActivateTask >= 0) _activated |= 1UL << ut.Op.OnDone.ActivateTask;
        if (ut.Op.OnDone.UnblockTask >= 0) _blocked &= ~(1UL << ut.Op.OnDone.UnblockTask);
    }

    private long NextWake(long t, Band band)
    {
        var t1 = t + 1;
        // A waiting result tries its queue every cycle (the simple, safe wake: the router frees a slot in a cycle of its
        // own choosing, and polling costs host time only while a result waits).
        if (_executeMask != 0) return t1;
        var next = long.MaxValue;
        for (var mask = _activeMask; mask != 0; mask &= mask - 1)
            next = Math.Min(next, StreamWake(_uts![BitOperations.TrailingZeroCount(mask)].Op, t1));
        if (t1 < _busyUntil)
        {
            // The run lasts at least until this engine is done; it needs to run again then only if work follows.
            band.NoteBusyUntil(_busyUntil);
            if (_mainActive || _opHead < _ops.Count || _currentTask >= 0 || HasRunnableTask(_busyUntil)) return Math.Min(next, _busyUntil);
            return Math.Min(next, QueuedWake(t));
        }
        if (_mainActive) next = Math.Min(next, StreamWake(CollectionsMarshal.AsSpan(_ops)[_mainOp], t1));
        else if (_opHead < _ops.Count)
        {
            ref var op = ref CollectionsMarshal.AsSpan(_ops)[_opHead];
            if (!(op.Code == OpCode.Vector && op.Async && _uts is not null && _uts[MicrothreadOf(op)].Active)) return t1;
        }
        else if (HasRunnableTask(t1)) return t1;
        // A queued wavelet becoming visible matters only to an idle engine (it may start a task); a running task's ops
        // wake the engine through their own queues above.
        return _currentTask < 0 ? Math.Min(next, QueuedWake(t)) : next;
    }

    /// <summary>Wavelets already in input queues but not yet through the ramp may start a task when they become visible.</summary>
    private long QueuedWake(long t)
    {
        var next = long.MaxValue;
        for (var q = 0; q < _inQueues.Length; q++)
            if (_inQueues[q] is { IsEmpty: false } f && f.HeadReadyCycle > t) next = Math.Min(next, f.HeadReadyCycle);
        return next;
    }

    private long PortWake(int id, long t1)
    {
        // Only the link's pace is this port's own reason to wait; a ready port waits on the op's other operand.
        var p = _ports![id]!;
        return p.Moved < p.Count && p.ReadyCycle > t1 ? p.ReadyCycle : long.MaxValue;
    }

    private long StreamWake(in Op op, long t1)
    {
        if (CanStep(op, t1)) return t1;
        var next = long.MaxValue;
        if (op.A.Kind == OperandKind.Dsd && op.A.Dsd.Kind == DsdKind.FabIn && _inQueues[op.A.Dsd.Queue] is { IsEmpty: false } qa)
            next = Math.Min(next, Math.Max(t1, qa.HeadReadyCycle));
        if (op.B.Kind == OperandKind.Dsd && op.B.Dsd.Kind == DsdKind.FabIn && _inQueues[op.B.Dsd.Queue] is { IsEmpty: false } qb)
            next = Math.Min(next, Math.Max(t1, qb.HeadReadyCycle));
        // A port paced by its link: wake when its next value may move (if nothing else blocks, that is the step).
        if (op.A.Kind == OperandKind.Dsd && op.A.Dsd.Kind == DsdKind.Port) next = Math.Min(next, PortWake(op.A.Dsd.Queue, t1));
        if (op.Dst.Kind == DsdKind.Port) next = Math.Min(next, PortWake(op.Dst.Queue, t1));
        return next;
    }
}

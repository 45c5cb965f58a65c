// The API a task body uses: it issues DSD ops and task-control ops in program order (like a CSL task body).
// Ops run later, cycle by cycle; code that needs their results goes in Then(...), which runs at its place in order.

namespace Wafer.Fabric.Pe;

public sealed class TaskContext
{
    private ComputeEngine _ce = null!;
    private ProcessingElement _pe = null!;
    private bool _inBody;

    /// <summary>One context per worker thread, pointed at the engine whose task is running.</summary>
    internal TaskContext() { }

    public int X => _pe.X;
    public int Y => _pe.Y;
    /// <summary>The running task's ID.</summary>
    public int TaskId { get; private set; }
    /// <summary>The 32-bit payload of the wavelet that started a data or control task.</summary>
    public uint Arg { get; private set; }
    public float ArgF32 => BitConverter.UInt32BitsToSingle(Arg);
    /// <summary>Low half of the payload (data in the sparse convention; control-task data).</summary>
    public ushort ArgLow => (ushort)Arg;
    /// <summary>High half of the payload (index in the sparse convention).</summary>
    public ushort ArgHigh => (ushort)(Arg >> 16);

    internal void Begin(ComputeEngine ce, ProcessingElement pe, int task, uint arg)
    {
        _ce = ce;
        _pe = pe;
        TaskId = task;
        Arg = arg;
        _inBody = true;
        _ce.IssuedThisCall = 0;
    }
    internal void End() => _inBody = false;

    // ------------------------------------------------------------ memory

    public int Address(string symbol) => _ce.Sram.Symbol(symbol).Address;

    /// <summary>A 1-D memory DSD over <paramref name="symbol"/>; length defaults to the whole symbol in fp32 elements.</summary>
    public Dsd Mem(string symbol, int length = -1, int stride = 1, int offset = 0, int elemBytes = 4)
    {
        var (address, bytes) = _ce.Sram.Symbol(symbol);
        return Dsd.Mem1D(address, length < 0 ? bytes / elemBytes : length, stride, offset);
    }

    /// <summary>Reads SRAM now. Only valid before this step issues any op (their results do not exist yet): use Then.</summary>
    public float LoadF32(int address) { CheckScalarAccess("LoadF32"); _ce.Sram.Check(address, 4, "scalar load"); return _ce.Sram.ReadF32(address); }
    public int LoadI32(int address) { CheckScalarAccess("LoadI32"); _ce.Sram.Check(address, 4, "scalar load"); return _ce.Sram.ReadI32(address); }
    public void StoreF32(int address, float value) { CheckScalarAccess("StoreF32"); _ce.Sram.Check(address, 4, "scalar store"); _ce.Sram.WriteF32(address, value); }
    public void StoreI32(int address, int value) { CheckScalarAccess("StoreI32"); _ce.Sram.Check(address, 4, "scalar store"); _ce.Sram.WriteI32(address, value); }

    private void CheckScalarAccess(string what)
    {
        if (!_inBody) throw new FabricProgramException($"PE ({X},{Y}): {what} outside a running task");
        if (_ce.IssuedThisCall > 0)
            throw new FabricProgramException($"PE ({X},{Y}) task {TaskId}: {what} after issuing a DSD op in the same step would see memory before that op ran; put it in ctx.Then(...)");
    }

    // ------------------------------------------------------------ fp32 DSD ops (docs/sources.md §2.2)

    public void Fmovs(Dsd dst, Operand a, Completion? async = null) => Vec(VecKind.Mov, ElemType.F32, dst, a, Operand.None, ScalarOperand.None, async);
    public void Fadds(Dsd dst, Operand a, Operand b, Completion? async = null) => Vec(VecKind.Add, ElemType.F32, dst, a, b, ScalarOperand.None, async);
    public void Fsubs(Dsd dst, Operand a, Operand b, Completion? async = null) => Vec(VecKind.Sub, ElemType.F32, dst, a, b, ScalarOperand.None, async);
    public void Fmuls(Dsd dst, Operand a, Operand b, Completion? async = null) => Vec(VecKind.Mul, ElemType.F32, dst, a, b, ScalarOperand.None, async);
    public void Fmaxs(Dsd dst, Operand a, Operand b, Completion? async = null) => Vec(VecKind.Max, ElemType.F32, dst, a, b, ScalarOperand.None, async);
    public void Fnegs(Dsd dst, Operand a, Completion? async = null) => Vec(VecKind.Neg, ElemType.F32, dst, a, Operand.None, ScalarOperand.None, async);
    /// <summary>dst = a + b * s (@fmacs).</summary>
    public void Fmacs(Dsd dst, Operand a, Operand b, ScalarOperand s, Completion? async = null) => Vec(VecKind.Fmac, ElemType.F32, dst, a, b, s, async);

    // ------------------------------------------------------------ fp16 DSD ops (real half precision)

    public void Fmovh(Dsd dst, Operand a, Completion? async = null) => Vec(VecKind.Mov, ElemType.F16, dst, a, Operand.None, ScalarOperand.None, async);
    public void Faddh(Dsd dst, Operand a, Operand b, Completion? async = null) => Vec(VecKind.Add, ElemType.F16, dst, a, b, ScalarOperand.None, async);
    public void Fsubh(Dsd dst, Operand a, Operand b, Completion? async = null) => Vec(VecKind.Sub, ElemType.F16, dst, a, b, ScalarOperand.None, async);
    public void Fmulh(Dsd dst, Operand a, Operand b, Completion? async = null) => Vec(VecKind.Mul, ElemType.F16, dst, a, b, ScalarOperand.None, async);
    public void Fmaxh(Dsd dst, Operand a, Operand b, Completion? async = null) => Vec(VecKind.Max, ElemType.F16, dst, a, b, ScalarOperand.None, async);
    public void Fmach(Dsd dst, Operand a, Operand b, ScalarOperand s, Completion? async = null) => Vec(VecKind.Fmac, ElemType.F16, dst, a, b, s, async);
    /// <summary>@fmachs: dst (fp32) = a (fp32) + b (fp16) * s (fp16): fp16 multiply, fp32 accumulate.</summary>
    public void Fmachs(Dsd dst, Operand a, Operand b, ScalarOperand s, Completion? async = null) => Vec(VecKind.Fmac, ElemType.Mixed, dst, a, b, s, async);
    /// <summary>fp16 to fp32 (@fh2s).</summary>
    public void Fh2s(Dsd dst, Operand a, Completion? async = null) => Vec(VecKind.H2S, ElemType.F32, dst, a, Operand.None, ScalarOperand.None, async);
    /// <summary>fp32 to fp16 (@fs2h).</summary>
    public void Fs2h(Dsd dst, Operand a, Completion? async = null) => Vec(VecKind.S2H, ElemType.F32, dst, a, Operand.None, ScalarOperand.None, async);

    // ------------------------------------------------------------ task control

    public void Activate(int task) { CheckTask(task); _ce.Issue(new Op { Code = OpCode.Activate, TaskId = task }); }
    public void Block(int task) { CheckTask(task); _ce.Issue(new Op { Code = OpCode.Block, TaskId = task }); }
    public void Unblock(int task) { CheckTask(task); _ce.Issue(new Op { Code = OpCode.Unblock, TaskId = task }); }

    /// <summary>Charges <paramref name="cycles"/> of scalar instructions (loop counters, address arithmetic) in order.</summary>
    public void Scalar(int cycles)
    {
        if (cycles < 0) throw new FabricProgramException($"PE ({X},{Y}): negative scalar cycles {cycles}");
        if (cycles > 0) _ce.Issue(new Op { Code = OpCode.Scalar, Cycles = cycles });
    }

    /// <summary>Runs <paramref name="next"/> after every op issued so far (costing <paramref name="cycles"/>); it may issue more ops.
    /// Pass a delegate created once (not a capturing lambda per call) to keep the cycle loop allocation-free.</summary>
    public void Then(Action<TaskContext> next, int cycles = 1) => _ce.Issue(new Op { Code = OpCode.Then, Then = next, Cycles = Math.Max(0, cycles) });

    private void CheckTask(int task)
    {
        if (task is < 0 or >= 64) throw new FabricProgramException($"PE ({X},{Y}): task ID {task} is outside 0..63");
    }

    private void Vec(VecKind kind, ElemType type, Dsd dst, Operand a, Operand b, ScalarOperand s, Completion? async)
    {
        if (!_inBody) throw new FabricProgramException($"PE ({X},{Y}): DSD op issued outside a running task");
        var dstBytes = VectorMath.DestinationBytes(kind, type);
        if (dst.Kind == DsdKind.FabIn) throw new FabricProgramException($"PE ({X},{Y}): a fabin DSD cannot be a destination (docs/sources.md §2.5)");
        CheckDsd(dst, dstBytes, "destination DSD");
        var fabIns = CheckSource(a, dst, VectorMath.SourceBytes(kind, type, second: false)) + CheckSource(b, dst, VectorMath.SourceBytes(kind, type, second: true));
        if (fabIns > 1 && a.Dsd.Queue == b.Dsd.Queue)
            throw new FabricProgramException($"PE ({X},{Y}): both sources read input queue {a.Dsd.Queue}");
        if (s.Kind == OperandKind.MemoryScalar) _ce.Sram.Check(s.Address, type == ElemType.F32 ? 4 : 2, "scalar operand");
        _ce.Issue(new Op
        {
            Code = OpCode.Vector, Kind = kind, Type = type, Dst = dst, A = a, B = b, S = s,
            Async = async is not null, OnDone = async ?? Completion.Nothing,
        });
    }

    /// <summary>Validates one source; returns 1 when it reads the fabric.</summary>
    private int CheckSource(in Operand o, in Dsd dst, int srcBytes)
    {
        if (o.Kind == OperandKind.MemoryScalar) _ce.Sram.Check(o.Address, srcBytes, "scalar operand");
        if (o.Kind != OperandKind.Dsd) return 0;
        if (o.Dsd.Kind == DsdKind.FabOut) throw new FabricProgramException($"PE ({X},{Y}): a fabout DSD cannot be a source (docs/sources.md §2.5)");
        if (o.Dsd.Length != dst.Length)
            throw new FabricProgramException($"PE ({X},{Y}): DSD op length mismatch: destination has {dst.Length} elements, a source has {o.Dsd.Length}");
        CheckDsd(o.Dsd, srcBytes, "source DSD");
        return o.Dsd.Kind == DsdKind.FabIn ? 1 : 0;
    }

    private void CheckDsd(in Dsd d, int elemBytes, string role)
    {
        if (d.Length < 0) throw new FabricProgramException($"PE ({X},{Y}): {role} has negative length {d.Length}");
        switch (d.Kind)
        {
            case DsdKind.Mem1D:
            case DsdKind.Mem4D:
                var (lo, hi) = d.ByteRange(elemBytes);
                _ce.Sram.Check(lo, hi - lo, role);
                break;
            case DsdKind.FabIn:
                _ce.InQueue(d.Queue, d.Color);
                break;
            case DsdKind.FabOut:
                _ce.OutQueue(d.Queue, d.Color);
                break;
            case DsdKind.Fifo:
                _ce.Fifo(d.FifoId);
                break;
            case DsdKind.Port:
                _ce.Port(d.Queue);
                break;
        }
    }
}

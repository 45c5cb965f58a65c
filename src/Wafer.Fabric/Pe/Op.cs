// The instructions a task issues: vector DSD ops and task-control ops, held by value in preallocated buffers.
namespace Wafer.Fabric.Pe;

/// <summary>Vector op kinds: dst[i] = f(a[i], b[i], s) (CSL builtins, docs/sources.md §2.2).</summary>
public enum VecKind : byte
{
    /// <summary>dst = a (@fmovs/@fmovh/@mov32).</summary>
    Mov,
    /// <summary>dst = a + b (@fadds/@faddh).</summary>
    Add,
    /// <summary>dst = a - b (@fsubs/@fsubh).</summary>
    Sub,
    /// <summary>dst = a * b (@fmuls/@fmulh).</summary>
    Mul,
    /// <summary>dst = a + b * s (@fmacs/@fmach: an AXPY).</summary>
    Fmac,
    /// <summary>dst = max(a, b) (@fmaxs/@fmaxh).</summary>
    Max,
    /// <summary>dst = -a (@fnegs/@fnegh).</summary>
    Neg,
    /// <summary>fp16 a to fp32 dst (@fh2s).</summary>
    H2S,
    /// <summary>fp32 a to fp16 dst (@fs2h).</summary>
    S2H,
}

/// <summary>F32, F16, or Mixed (@fmachs / @faddhs: fp32 destination and first source, fp16 second source and scalar).</summary>
public enum ElemType : byte { F32, F16, Mixed }

public enum OperandKind : byte { None, Dsd, Immediate, MemoryScalar }

/// <summary>A source operand: a DSD, an immediate, or a scalar read from SRAM when the op executes (like CSL's x[i]).
/// A memory scalar keeps its byte address in the DSD's base address field.</summary>
public readonly record struct Operand(OperandKind Kind, Dsd Dsd, float Immediate)
{
    public int Address => Dsd.BaseAddress;
    public static implicit operator Operand(Dsd dsd) => new(OperandKind.Dsd, dsd, 0);
    public static implicit operator Operand(float value) => new(OperandKind.Immediate, default, value);
    public static Operand Imm(float value) => new(OperandKind.Immediate, default, value);
    /// <summary>A scalar loaded from byte address <paramref name="address"/> when the op executes.</summary>
    public static Operand Mem(int address) => new(OperandKind.MemoryScalar, new Dsd { BaseAddress = address }, 0);
    public static readonly Operand None = new(OperandKind.None, default, 0);
}

/// <summary>The scalar operand of an FMAC: an immediate or an SRAM word read when the op executes.</summary>
public readonly record struct ScalarOperand(OperandKind Kind, float Immediate, int Address)
{
    public static implicit operator ScalarOperand(float value) => new(OperandKind.Immediate, value, 0);
    public static ScalarOperand Mem(int address) => new(OperandKind.MemoryScalar, 0, address);
    public static implicit operator ScalarOperand(Operand o) => o.Kind switch
    {
        OperandKind.Immediate => new(OperandKind.Immediate, o.Immediate, 0),
        OperandKind.MemoryScalar => new(OperandKind.MemoryScalar, 0, o.Address),
        OperandKind.None => new(OperandKind.None, 0, 0),
        _ => throw new FabricProgramException("the scalar operand of an FMAC must be an immediate or a memory scalar, not a DSD"),
    };
    public static readonly ScalarOperand None = new(OperandKind.None, 0, 0);
}

/// <summary>What an async op does when it completes (CSL .activate / .unblock).</summary>
public readonly record struct Completion(int ActivateTask = -1, int UnblockTask = -1)
{
    public static Completion Activate(int task) => new(ActivateTask: task);
    public static Completion Unblock(int task) => new(UnblockTask: task);
    public static readonly Completion Nothing = new();
}

internal enum OpCode : byte { Vector, Activate, Block, Unblock, Scalar, Then }

/// <summary>One issued instruction. Vector ops use Kind/Type/Dst/A/B/S; control ops use TaskId; Scalar/Then use Cycles.</summary>
internal struct Op
{
    public OpCode Code;
    public VecKind Kind;
    public ElemType Type;
    public bool Async;
    public Dsd Dst;
    public Operand A, B;
    public ScalarOperand S;
    public Completion OnDone;
    public int TaskId;
    public int Cycles;
    public Action<TaskContext>? Then;
}

// The compute engine's datapath: element arithmetic over DSD operands, memory-op costs (SIMD widths, strides, banks),
// and the queue checks that decide whether a streaming op can move this cycle.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Wafer.Fabric.Config;

namespace Wafer.Fabric.Pe;

internal sealed partial class ComputeEngine
{
    private static int ABytes(in Op op) => VectorMath.SourceBytes(op.Kind, op.Type, second: false);
    private static int BBytes(in Op op) => VectorMath.SourceBytes(op.Kind, op.Type, second: true);
    private static int DstBytes(in Op op) => VectorMath.DestinationBytes(op.Kind, op.Type);

    /// <summary>Cycles of a memory-only op: ceil(n / SIMD width), the width capped by the operands' strides (docs/sources.md
    /// §2.2) and halved by a bank conflict; and how many of them the conflict added (0 without one).</summary>
    internal static (int Cycles, int ConflictCycles) MemoryOpCycles(WaferConfig cfg, in Op op)
    {
        var width = VectorMath.SimdWidth(cfg, op.Kind, op.Type);
        width = Math.Min(width, op.Dst.StrideWidthCap(width));
        if (op.A.Kind == OperandKind.Dsd) width = Math.Min(width, op.A.Dsd.StrideWidthCap(width));
        if (op.B.Kind == OperandKind.Dsd) width = Math.Min(width, op.B.Dsd.StrideWidthCap(width));
        var n = op.Dst.Length;
        var full = (n + width - 1) / width;
        if (!BankConflict(op)) return (full, 0);
        var half = Math.Max(1, width / 2);
        var cycles = (n + half - 1) / half;
        return (cycles, cycles - full);
    }

    /// <summary>Two memory sources whose streams collide in the 8 SRAM banks. SRAM interleaves 16-bit words over 8
    /// banks and a cycle reads two 32-bit words from banks with bank1 % 4 != bank2 % 4; full SIMD width needs
    /// (src0 % 8) == ((src1 + 4) % 8) in 16-bit words (docs/sources.md §2.3 [SDK-APX]). Our model: otherwise the op runs at
    /// half width (contiguous operands only; strided ones are already capped).</summary>
    internal static bool BankConflict(in Op op)
    {
        if (op.A.Kind != OperandKind.Dsd || op.B.Kind != OperandKind.Dsd) return false;
        var a = op.A.Dsd;
        var b = op.B.Dsd;
        if (a.Kind != DsdKind.Mem1D || b.Kind != DsdKind.Mem1D || Math.Abs(a.Stride) > 1 || Math.Abs(b.Stride) > 1) return false;
        var w0 = a.Address(0, ABytes(op)) / 2;
        var w1 = b.Address(0, BBytes(op)) / 2;
        return w0 % 8 != (w1 + 4) % 8;
    }

    /// <summary>Executes a memory-only op at once; returns its cycles and those a bank conflict added.</summary>
    private (int Cycles, int ConflictCycles) RunMemoryOp(in Op op)
    {
        var n = op.Dst.Length;
        if (op.Type == ElemType.F32 && op.Kind is VecKind.Fmac or VecKind.Add or VecKind.Mov && ContiguousF32(op)) RunContiguousF32(op);
        else for (var i = 0; i < n; i++) StepElement(op, i, 0);
        Flops += (long)n * VectorMath.FlopsPerElement(op.Kind);
        return MemoryOpCycles(_cfg, op);
    }

    private static bool Contiguous(in Operand o) => o.Kind != OperandKind.Dsd || (o.Dsd.Kind == DsdKind.Mem1D && o.Dsd.Stride == 1);

    private static bool ContiguousF32(in Op op) =>
        op.Dst.Kind == DsdKind.Mem1D && op.Dst.Stride == 1 && Contiguous(op.A) && Contiguous(op.B);

    /// <summary>Fast path for contiguous fp32 AXPY, add and move (the GEMV inner loop); same rounding as StepElement.</summary>
    private void RunContiguousF32(in Op op)
    {
        var n = op.Dst.Length;
        var dst = Sram.F32(op.Dst.Address(0, 4), n);
        var s = ScalarValue(op.S, op.Type);
        if (op.A.Kind == OperandKind.Dsd)
        {
            var a = Sram.F32(op.A.Dsd.Address(0, 4), n);
            if (op.Kind == VecKind.Mov) { a.CopyTo(dst); return; }
            if (op.B.Kind == OperandKind.Dsd)
            {
                var b = Sram.F32(op.B.Dsd.Address(0, 4), n);
                var i = 0;
                // Vector256 lanes give the same fused rounding per element; only when dst is each source or apart
                // from it (a partial overlap would see elements written earlier in the same op).
                if (Vector256.IsHardwareAccelerated && SameOrApart(dst, a) && SameOrApart(dst, b))
                {
                    var sv = Vector256.Create(s);
                    ref var rd = ref MemoryMarshal.GetReference(dst);
                    ref var ra = ref MemoryMarshal.GetReference(a);
                    ref var rb = ref MemoryMarshal.GetReference(b);
                    for (; i + 8 <= n; i += 8)
                    {
                        var va = Vector256.LoadUnsafe(ref ra, (nuint)i);
                        var vb = Vector256.LoadUnsafe(ref rb, (nuint)i);
                        var r = op.Kind == VecKind.Fmac ? Vector256.FusedMultiplyAdd(vb, sv, va) : va + vb;
                        r.StoreUnsafe(ref rd, (nuint)i);
                    }
                }
                if (op.Kind == VecKind.Fmac) for (; i < n; i++) dst[i] = MathF.FusedMultiplyAdd(b[i], s, a[i]);
                else for (; i < n; i++) dst[i] = a[i] + b[i];
                return;
            }
        }
        for (var i = 0; i < n; i++) StepElement(op, i, 0);
    }

    private static bool SameOrApart(Span<float> x, Span<float> y) =>
        Unsafe.AreSame(ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y)) || !x.Overlaps(y);

    /// <summary>The scalar multiplier: an immediate, or a value read from SRAM in the op's element type (an @fmach
    /// takes an fp16 scalar; reading it as fp32 was a bug MeshGEMV found).</summary>
    private float ScalarValue(in ScalarOperand s, ElemType type) => s.Kind switch
    {
        OperandKind.Immediate => s.Immediate,
        OperandKind.MemoryScalar => type == ElemType.F32 ? Sram.ReadF32(s.Address) : (float)Sram.ReadF16(s.Address),
        _ => 0f,
    };

    /// <summary>One element: read sources (popping fabric/FIFO inputs), compute, write (pushing fabric/FIFO outputs).</summary>
    private void StepElement(in Op op, int i, long t)
    {
        var a = Read(op.A, i, ABytes(op), t);
        var b = op.B.Kind == OperandKind.None ? 0f : Read(op.B, i, BBytes(op), t);
        var v = VectorMath.Apply(op.Kind, op.Type, a, b, ScalarValue(op.S, op.Type));
        Write(op.Dst, i, DstBytes(op), v, t);
    }

    private float Read(in Operand o, int i, int elemBytes, long t)
    {
        switch (o.Kind)
        {
            case OperandKind.Immediate: return o.Immediate;
            case OperandKind.MemoryScalar: return elemBytes == 4 ? Sram.ReadF32(o.Address) : (float)Sram.ReadF16(o.Address);
            case OperandKind.Dsd:
                var d = o.Dsd;
                switch (d.Kind)
                {
                    case DsdKind.Mem1D:
                    case DsdKind.Mem4D:
                        var addr = d.Address(i, elemBytes);
                        return elemBytes == 4 ? Sram.ReadF32(addr) : (float)Sram.ReadF16(addr);
                    case DsdKind.FabIn:
                        var w = _inQueues[d.Queue]!.Pop();
                        return elemBytes == 4 ? w.AsFloat : (float)BitConverter.UInt16BitsToHalf(w.Low16);
                    case DsdKind.Fifo:
                        return _fifos![d.FifoId]!.Pop();
                    case DsdKind.Port:
                        return _ports![d.Queue]!.Read(t);
                }
                break;
        }
        return 0f;
    }

    private void Write(in Dsd d, int i, int elemBytes, float v, long t)
    {
        switch (d.Kind)
        {
            case DsdKind.Mem1D:
            case DsdKind.Mem4D:
                var addr = d.Address(i, elemBytes);
                if (elemBytes == 4) Sram.WriteF32(addr, v); else Sram.WriteF16(addr, (Half)v);
                break;
            case DsdKind.FabOut:
                var payload = elemBytes == 4 ? BitConverter.SingleToUInt32Bits(v) : BitConverter.HalfToUInt16Bits((Half)v);
                var w = d.Control ? Wavelet.Control(d.Color, payload) : Wavelet.Data(d.Color, payload);
                PushResult(d.Queue, w, t);
                break;
            case DsdKind.Fifo:
                var f = _fifos![d.FifoId]!;
                f.Push(v);
                if (f.ActivateOnPushTask >= 0) _activated |= 1UL << f.ActivateOnPushTask;
                break;
            case DsdKind.Port:
                _ports![d.Queue]!.Write(t, elemBytes == 4 ? v : (float)(Half)v);
                break;
        }
    }

    /// <summary>Whether every streaming operand of <paramref name="op"/> can move one element in cycle <paramref name="t"/>.</summary>
    private bool CanStep(in Op op, long t)
    {
        if (!CanRead(op.A, t) || !CanRead(op.B, t)) return false;
        return op.Dst.Kind switch
        {
            // With the execute register the result waits there, so the register, not the queue, must have room.
            DsdKind.FabOut => _cfg.ExecuteLatencyCycles == 0 ? !_outQueues[op.Dst.Queue]!.IsFull : (_executeMask & (1u << op.Dst.Queue)) == 0,
            DsdKind.Fifo => !_fifos![op.Dst.FifoId]!.IsFull,
            DsdKind.Port => _ports![op.Dst.Queue]!.Ready(t),
            _ => true,
        };
    }

    private bool CanRead(in Operand o, long t)
    {
        if (o.Kind != OperandKind.Dsd) return true;
        return o.Dsd.Kind switch
        {
            DsdKind.FabIn => _inQueues[o.Dsd.Queue]!.HeadReady(t) && !_inQueues[o.Dsd.Queue]!.Peek().IsControl,
            DsdKind.Fifo => !_fifos![o.Dsd.FifoId]!.IsEmpty,
            DsdKind.Port => _ports![o.Dsd.Queue]!.Ready(t),
            _ => true,
        };
    }
}

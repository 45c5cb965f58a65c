// Cycle costs of the transcendental functions layer kernels compute per element in scalar code. The WSE-2 ISA has no
// vector exp, tanh, reciprocal or square root (docs/sources.md §2.2 lists the DSD ops: add, sub, mul, FMAC, max, neg, abs, scale,
// norm, moves, conversions; FDIVSS is a scalar divide), so software does them one value at a time. The vendor does not
// publish its math library's cycle counts; these are our estimates of short polynomial / Newton routines on a
// one-instruction-per-cycle scalar pipeline, kept in one place so a measurement can replace them.
namespace Wafer.Kernels.Layers;

public static class ScalarMath
{
    /// <summary>exp(x): range reduction to 2^n e^r (a multiply, a round, a subtract), a degree-5 polynomial (5 FMAs),
    /// the exponent scale: about 14 instructions. Our choice.</summary>
    public const int ExpCycles = 14;

    /// <summary>tanh(u) as 1 - 2 / (1 + e^(2u)): an exp, an add, a divide, a subtract. Our choice.</summary>
    public const int TanhCycles = ExpCycles + 6;

    /// <summary>1 / sqrt(v): an exponent-halving first guess (integer ops) and two Newton steps y (1.5 - 0.5 v y^2):
    /// about a dozen instructions. Our choice.</summary>
    public const int RsqrtCycles = 12;

    /// <summary>1 / s: a first guess and two Newton steps y (2 - s y). Our choice.</summary>
    public const int ReciprocalCycles = 8;
}

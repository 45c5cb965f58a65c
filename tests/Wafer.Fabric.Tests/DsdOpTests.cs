using Wafer.Fabric.Pe;

namespace Wafer.Fabric.Tests;

public class DsdOpTests
{
    private static readonly float[] A = [1.5f, -2.25f, 3.125f, 0.1f, 1e-3f, -7f, 2.5f, 1f / 3, 100f, -0.5f];
    private static readonly float[] B = [0.5f, 4f, -1.75f, 0.2f, 3f, 7f, -2.5f, 3f, 1e-2f, 0.25f];

    private static float[] RunF32(Action<TaskContext> body, int n = 10)
    {
        var code = new PeCode("ops").SymbolF32("a", A).SymbolF32("b", B).SymbolF32("d", n).SymbolF32("s", [0.75f]).LocalTask(10, body);
        return OnePe.Read(OnePe.Run(code).Sim, "d", n);
    }

    [Fact]
    public void Fp32_Ops_MatchHostArithmetic()
    {
        Assert.Equal(A.Zip(B, (x, y) => x + y), RunF32(c => c.Fadds(c.Mem("d"), c.Mem("a"), c.Mem("b"))));
        Assert.Equal(A.Zip(B, (x, y) => x - y), RunF32(c => c.Fsubs(c.Mem("d"), c.Mem("a"), c.Mem("b"))));
        Assert.Equal(A.Zip(B, (x, y) => x * y), RunF32(c => c.Fmuls(c.Mem("d"), c.Mem("a"), c.Mem("b"))));
        Assert.Equal(A.Zip(B, MathF.Max), RunF32(c => c.Fmaxs(c.Mem("d"), c.Mem("a"), c.Mem("b"))));
        Assert.Equal(A.Select(x => -x), RunF32(c => c.Fnegs(c.Mem("d"), c.Mem("a"))));
        Assert.Equal(A.Select(x => x + 2f), RunF32(c => c.Fadds(c.Mem("d"), c.Mem("a"), 2f)));
    }

    [Fact]
    public void Fp32_Fmacs_IsFusedAxpy_WithScalarReadFromMemory()
    {
        var expected = A.Zip(B, (x, y) => MathF.FusedMultiplyAdd(y, 0.75f, x));
        Assert.Equal(expected, RunF32(c => c.Fmacs(c.Mem("d"), c.Mem("a"), c.Mem("b"), Operand.Mem(c.Address("s")))));
    }

    [Fact]
    public void Fp32_StridedAndFourDimensionalDsds_AddressTheRightElements()
    {
        // Every other element of a, reversed order via negative stride from the end.
        var strided = RunF32(c => c.Fmovs(c.Mem("d", 5), c.Mem("a", 5, stride: 2)), 5);
        Assert.Equal(new[] { A[0], A[2], A[4], A[6], A[8] }, strided);
        var reversed = RunF32(c => c.Fmovs(c.Mem("d", 4), c.Mem("a", 4, stride: -1, offset: 3)), 4);
        Assert.Equal(new[] { A[3], A[2], A[1], A[0] }, reversed);
        // A 2 x 3 transpose read: element (i, j) of a 3x2 row-major block.
        var transposed = RunF32(c => c.Fmovs(c.Mem("d", 6), Dsd.Mem4D(c.Address("a"), [3, 2], [2, 1])), 6);
        Assert.Equal(new[] { A[0], A[2], A[4], A[1], A[3], A[5] }, transposed);
    }

    [Fact]
    public void Fp16_Ops_RoundToHalfPrecision()
    {
        var ha = A.Select(x => (Half)x).ToArray();
        var hb = B.Select(x => (Half)x).ToArray();
        var code = new PeCode("h").SymbolF16("a", 10).SymbolF16("b", 10).SymbolF16("sum", 10).SymbolF16("mac", 10).SymbolF32("wide", 10)
            .SymbolF16("tiny", 2).SymbolF32("back", 10)
            .LocalTask(10, c =>
            {
                // Fill fp16 inputs by converting fp32 scalars in place (exercises @fs2h on each element).
                for (var i = 0; i < 10; i++)
                {
                    c.Fs2h(Dsd.Mem1D(c.Address("a") + 2 * i, 1), A[i]);
                    c.Fs2h(Dsd.Mem1D(c.Address("b") + 2 * i, 1), B[i]);
                }
                c.Faddh(c.Mem("sum", 10, elemBytes: 2), c.Mem("a", 10, elemBytes: 2), c.Mem("b", 10, elemBytes: 2));
                c.Fmach(c.Mem("mac", 10, elemBytes: 2), c.Mem("a", 10, elemBytes: 2), c.Mem("b", 10, elemBytes: 2), 0.3f);
                c.Fh2s(c.Mem("wide", 10), c.Mem("mac", 10, elemBytes: 2));
                // 1 + 2^-12 is not representable in fp16 (10-bit mantissa): the sum rounds back to 1.
                c.Fs2h(c.Mem("tiny", 2, elemBytes: 2), 1f);
                c.Faddh(c.Mem("tiny", 2, elemBytes: 2), c.Mem("tiny", 2, elemBytes: 2), 1f / 4096);
                c.Fh2s(c.Mem("back", 2), c.Mem("tiny", 2, elemBytes: 2));
            });
        var (sim, _) = OnePe.Run(code);
        var s0 = (Half)0.3f;
        var expectedMac = ha.Zip(hb, (x, y) => (float)(Half)((double)(float)x + (double)(float)y * (float)s0)).ToArray();
        Assert.Equal(expectedMac, OnePe.Read(sim, "wide", 10));
        Assert.Equal(1f, OnePe.Read(sim, "back", 1)[0]);
        var bytes = sim.Host.MemcpyD2H("sum", 0, 0, 1, 1, 5);
        var sums = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Half>(bytes).ToArray();
        Assert.Equal(ha.Zip(hb, (x, y) => (Half)((double)(float)x + (float)y)), sums);
    }

    [Theory]
    // src0 = x[k..] starts at 16-bit word 2k, src1 = x[0..] at word 0; full width needs 2k % 8 == (0 + 4) % 8.
    [InlineData(4, 2 + 1 + 8)]   // 8 % 8 = 0 != 4: bank conflict, the fp32 add runs at width 1
    [InlineData(2, 2 + 1 + 4)]   // 4 % 8 = 4: aligned, full width 2
    public void OpCycles_MisalignedSources_RunAtHalfWidth(int offsetElements, int expectedCycles)
    {
        const int n = 8;
        var code = new PeCode("banks").SymbolF32("x", 64).SymbolF32("y", 64).LocalTask(10, c =>
            c.Fadds(c.Mem("y", n), c.Mem("x", n, offset: offsetElements), c.Mem("x", n)));
        Assert.Equal(expectedCycles, OnePe.Run(code).Cycles);
    }

    [Theory]
    // The bank conflict's extra cycles are idle on memory, not busy: n = 8 fp32 adds take 8 cycles at width 1, of which
    // 4 (the width-2 time) are busy and 4 wait on SRAM; aligned sources wait on nothing. Total cycles are unchanged.
    [InlineData(4, 2 + 1 + 4, 4)]
    [InlineData(2, 2 + 1 + 4, 0)]
    public void BankConflictCycles_CountAsIdleOnMemory(int offsetElements, int expectedBusy, int expectedMemoryStall)
    {
        const int n = 8;
        var code = new PeCode("banks").SymbolF32("x", 64).SymbolF32("y", 64).LocalTask(10, c =>
            c.Fadds(c.Mem("y", n), c.Mem("x", n, offset: offsetElements), c.Mem("x", n)));
        var (sim, cycles) = OnePe.Run(code);
        var stats = Wafer.Fabric.Stats.RunStats.Collect(sim);
        Assert.Equal(expectedBusy, stats.PeBusyCycles[0]);
        Assert.Equal(expectedMemoryStall, stats.PeMemoryStallCycles[0]);
        Assert.Equal(expectedMemoryStall, stats.MemoryStallPeCycles);
        var (busy, memory, other) = stats.Profile(0);
        Assert.Equal(1.0, busy + memory + other, 12);
        Assert.Equal((double)expectedMemoryStall / cycles, memory, 12);
    }

    [Theory]
    // Cycles = task start (2) + DSD startup (1) + ceil(n / SIMD width) (docs/sources.md §2.2: fadds 2, fmacs 1, faddh 4).
    [InlineData("fadds", 10, 2 + 1 + 5)]
    [InlineData("fmacs", 10, 2 + 1 + 10)]
    [InlineData("faddh", 10, 2 + 1 + 3)]
    [InlineData("faddh-stride8", 4, 2 + 1 + 4)]
    [InlineData("fadds-stride7", 4, 2 + 1 + 2)]
    public void OpCycles_FollowSimdWidthsAndStrideLimits(string op, int n, int expectedCycles)
    {
        var code = new PeCode("c").SymbolF32("x", 64).SymbolF32("y", 64).LocalTask(10, c =>
        {
            switch (op)
            {
                case "fadds": c.Fadds(c.Mem("y", n), c.Mem("x", n, offset: 2), c.Mem("x", n)); break; // bank-aligned sources
                case "fmacs": c.Fmacs(c.Mem("y", n), c.Mem("y", n), c.Mem("x", n), 2f); break;
                case "faddh": c.Faddh(c.Mem("y", n, elemBytes: 2), c.Mem("x", n, elemBytes: 2), 1f); break;
                case "faddh-stride8": c.Faddh(c.Mem("y", n, stride: 8, elemBytes: 2), c.Mem("x", n, stride: 8, elemBytes: 2), 1f); break;
                case "fadds-stride7": c.Fadds(c.Mem("y", n, stride: 7), c.Mem("x", n, stride: 7), 1f); break;
            }
        });
        Assert.Equal(expectedCycles, OnePe.Run(code).Cycles);
    }
}

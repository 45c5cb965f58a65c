using Wafer.Fabric.Config;
using Wafer.Kernels.Transformer;

namespace Wafer.Kernels.Tests;

/// <summary>Each phase of the transformer layer program against a float64 host reference, on grids that exercise its
/// cases: one column and several, heads within a column and across columns, sequences within a row and across rows.</summary>
public class TransformerPhaseTests
{
    internal static float[] Random(int count, int seed, double scale = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    internal static LayerProgram Program(int columns, int rows, int n, int c, int f, int heads, int t, int layers = 1) =>
        new(WaferPresets.Cs2, new LayerGrid(columns, rows, n, new LayerShape(c, f, heads, t)), layers, new Fabric.Engine.SimulatorOptions { Threads = 2 });

    [Theory]
    [InlineData(1, 2, 4, 8, 16, 2, 4)]
    [InlineData(3, 2, 5, 12, 24, 3, 5)]
    [InlineData(4, 4, 4, 16, 32, 2, 8)]
    public void Product_Qkv_MatchesTheHostProduct_InTheQkvLayout(int cc, int rows, int n, int c, int f, int heads, int t)
    {
        var p = Program(cc, rows, n, c, f, heads, t);
        var g = p.Grid;
        var x = Random(g.Tokens * c, 1);
        var w = Random(3 * c * c, 2);
        var b = Random(3 * c, 3);
        p.Write(p.Memory.Ln1, x, c);
        var map = OutputMap.Qkv(c, cc);
        var order = Enumerable.Range(0, 3 * c).ToArray();
        var cycles = p.Run(new ProductPhase("qkv", g, p.Memory, p.Memory.Ln1, g.K, p.Memory.Qkv, map, (i, col, row) => w[i * c + col * g.K + row], i => b[i]));
        Assert.True(cycles > 0);
        var got = p.Read(p.Memory.Qkv, 3 * c, (col, row) => row / g.K * c + col * g.K + row % g.K);
        for (var tok = 0; tok < g.Tokens; tok++)
            for (var o = 0; o < 3 * c; o++)
            {
                double want = b[o], mag = Math.Abs(b[o]);
                for (var i = 0; i < c; i++) { want += (double)x[tok * c + i] * w[o * c + i]; mag += Math.Abs((double)x[tok * c + i] * w[o * c + i]); }
                Assert.True(Math.Abs(got[tok * 3 * c + o] - want) <= 1e-6 * mag + 1e-7, $"token {tok} output {o}: {got[tok * 3 * c + o]} vs {want}");
            }
    }

    [Theory]
    [InlineData(1, 2, 4, 8, 16, 2, 4)]
    [InlineData(3, 2, 5, 12, 24, 3, 5)]
    public void Product_WithResidual_AddsItOnTheOwner(int cc, int rows, int n, int c, int f, int heads, int t)
    {
        var p = Program(cc, rows, n, c, f, heads, t);
        var g = p.Grid;
        var h = Random(g.Tokens * f, 4);
        var w = Random(c * f, 5);
        var b = Random(c, 6);
        var r = Random(g.Tokens * c, 7);
        p.Write(p.Memory.Gelu, h, f);
        p.Write(p.Memory.R2, r, c);
        p.Run(new ProductPhase("fcproj", g, p.Memory, p.Memory.Gelu, g.Kf, p.Memory.Inputs[1], OutputMap.Block(c, cc), (i, col, row) => w[i * f + col * g.Kf + row], i => b[i], p.Memory.R2));
        var got = p.Read(p.Memory.Inputs[1], c);
        for (var tok = 0; tok < g.Tokens; tok++)
            for (var o = 0; o < c; o++)
            {
                double want = b[o] + r[tok * c + o], mag = Math.Abs(want);
                for (var i = 0; i < f; i++) { want += (double)h[tok * f + i] * w[o * f + i]; mag += Math.Abs((double)h[tok * f + i] * w[o * f + i]); }
                Assert.True(Math.Abs(got[tok * c + o] - want) <= 1e-6 * mag + 1e-7, $"token {tok} output {o}: {got[tok * c + o]} vs {want}");
            }
    }
}

public class TransformerPhaseTests2
{
    private static float[] Random(int count, int seed, double scale = 1) => TransformerPhaseTests.Random(count, seed, scale);
    private static LayerProgram Program(int cc, int rows, int n, int c, int f, int heads, int t) => TransformerPhaseTests.Program(cc, rows, n, c, f, heads, t);

    private static void Near(double want, float got, double tol, string what) =>
        Assert.True(Math.Abs(got - want) <= tol, $"{what}: {got} vs {want} (tolerance {tol:G3})");

    [Theory]
    [InlineData(1, 2, 4, 8, 16, 2, 4)]
    [InlineData(3, 3, 5, 12, 24, 3, 5)]
    public void LayerNorm_ForwardAndBackward_MatchTheReference(int cc, int rows, int n, int c, int f, int heads, int t)
    {
        var p = Program(cc, rows, n, c, f, heads, t);
        var g = p.Grid;
        var m = p.Memory;
        var x = Random(g.Tokens * c, 11, 3).Select(v => v + 1.5f).ToArray(); // a non-zero mean
        var gamma = Random(c, 12).Select(v => v + 1).ToArray();
        var beta = Random(c, 13);
        var dy = Random(g.Tokens * c, 14);
        p.Write(m.Inputs[0], x, c);
        float[] Params(int col) => [.. gamma.AsSpan(col * g.K, g.K), .. beta.AsSpan(col * g.K, g.K)];
        p.Run(new LayerNormForward("ln", g, m, m.Inputs[0], m.Ln1, m.Mean1, m.Rstd1, Params));
        var (y, _, _) = HostReference.LayerNorm(x, gamma, beta, g.Tokens, c);
        var got = p.Read(m.Ln1, c);
        for (var i = 0; i < y.Length; i++) Near(y[i], got[i], 2e-6 * (Math.Abs(y[i]) + 1), $"y[{i}]");

        var prior = Random(g.Tokens * c, 15);
        p.Write(m.DR2, prior, c);
        p.Write(m.DLn, dy, c);
        var back = new LayerNormBackward("ln-back", g, m, m.DLn, m.Inputs[0], m.Mean1, m.Rstd1, m.DR2, Params);
        p.Run(back);
        var (dx, dg, db) = HostReference.LayerNormBackward(x, gamma, dy, g.Tokens, c);
        var gotDx = p.Read(m.DR2, c);
        for (var i = 0; i < dx.Length; i++) Near(prior[i] + dx[i], gotDx[i], 1e-5 * (Math.Abs(dx[i]) + 1), $"dx[{i}]");
        for (var col = 0; col < cc; col++)
            for (var j = 0; j < g.K; j++)
            {
                Near(dg[col * g.K + j], back.Gradients(col)[j], 1e-5 * g.Tokens, $"dgamma[{col * g.K + j}]");
                Near(db[col * g.K + j], back.Gradients(col)[g.K + j], 1e-5 * g.Tokens, $"dbeta[{col * g.K + j}]");
            }
    }

    [Theory]
    [InlineData(1, 2, 4, 8, 16, 2, 4)]   // one column: every head in it; one sequence per row
    [InlineData(2, 4, 4, 8, 16, 2, 8)]   // a head per column; sequences span 2 rows
    [InlineData(4, 4, 2, 8, 16, 2, 8)]   // heads span 2 columns; sequences span 4 rows
    [InlineData(2, 2, 8, 12, 24, 6, 4)]  // 3 heads per column; 2 sequences per row
    [InlineData(3, 3, 3, 9, 18, 1, 9)]   // one head over 3 columns (a middle member); sequences over 3 rows
    public void Attention_ForwardAndBackward_MatchTheReference(int cc, int rows, int n, int c, int f, int heads, int t)
    {
        var p = Program(cc, rows, n, c, f, heads, t);
        var g = p.Grid;
        var m = p.Memory;
        var qkv = Random(g.Tokens * 3 * c, 21, 1.5);
        var dOut = Random(g.Tokens * c, 22);
        int Feature(int col, int row) => row / g.K * c + col * g.K + row % g.K;
        p.Write(m.Qkv, qkv, 3 * c, Feature);
        p.Run(new AttentionForward("attn", g, m));
        var (want, dqkv) = HostReference.Attention(qkv, dOut, g.Tokens, c, heads, t);
        var got = p.Read(m.Att, c);
        for (var i = 0; i < want.Length; i++) Near(want[i], got[i], 2e-6 * (Math.Abs(want[i]) + 1), $"out[{i}]");
        p.Write(m.DAtt, dOut, c);
        p.Run(new AttentionBackward("attn-back", g, m, m.DAtt));
        var gotD = p.Read(m.DQkv, 3 * c, Feature);
        for (var i = 0; i < dqkv.Length; i++) Near(dqkv[i], gotD[i], 1e-5 * (Math.Abs(dqkv[i]) + 1), $"dqkv[{i} = token {i / (3 * c)}, feature {i % (3 * c)}]");
    }

    [Theory]
    [InlineData(1, 2, 4, 8, 16, 2, 4)]
    [InlineData(3, 2, 5, 12, 24, 3, 5)]
    public void WeightGradient_SendsDwAndDbThroughTheEdge(int cc, int rows, int n, int c, int f, int heads, int t)
    {
        var p = Program(cc, rows, n, c, f, heads, t);
        var g = p.Grid;
        var m = p.Memory;
        var x = Random(g.Tokens * c, 31);
        var dy = Random(g.Tokens * 3 * c, 32);
        int Feature(int col, int row) => row / g.K * c + col * g.K + row % g.K;
        p.Write(m.Ln1, x, c);
        p.Write(m.DQkv, dy, 3 * c, Feature);
        var map = OutputMap.Qkv(c, cc);
        var phase = new WeightGradientPhase("dw", g, m, m.Ln1, g.K, m.DQkv, map, bias: true);
        p.Run(phase);
        for (var col = 0; col < cc; col++)
        {
            var got = phase.Gradients(col);
            var at = 0;
            for (var o = 0; o < 3 * c; o++)
            {
                for (var j = 0; j < g.K; j++)
                {
                    double want = 0;
                    for (var tok = 0; tok < g.Tokens; tok++) want += (double)dy[tok * 3 * c + o] * x[tok * c + col * g.K + j];
                    Near(want, got[at++], 1e-5 * g.Tokens, $"dW[{o}, {col * g.K + j}]");
                }
                if (map.Owner[o] != col) continue;
                double wantB = 0;
                for (var tok = 0; tok < g.Tokens; tok++) wantB += dy[tok * 3 * c + o];
                Near(wantB, got[at++], 1e-5 * g.Tokens, $"db[{o}]");
            }
            Assert.Equal(got.Length, at);
        }
    }

    [Fact]
    public void Gelu_ForwardAndBackward_MatchTheReference()
    {
        var p = Program(2, 2, 4, 8, 16, 2, 4);
        var g = p.Grid;
        var m = p.Memory;
        var h = Random(g.Tokens * 16, 41, 4);
        var dh = Random(g.Tokens * 16, 42);
        p.Write(m.Fch, h, 16);
        p.Write(m.DHidden, dh, 16);
        p.Run(new GeluForward("gelu", g, m.Fch, m.Gelu));
        p.Run(new GeluBackward("gelu-back", g, m, m.Fch, m.DHidden));
        var y = p.Read(m.Gelu, 16);
        var d = p.Read(m.DHidden, 16);
        for (var i = 0; i < h.Length; i++)
        {
            Near(HostReference.Gelu(h[i]), y[i], 2e-6 * (Math.Abs(h[i]) + 1), $"gelu[{i}]");
            Near(dh[i] * HostReference.GeluSlope(h[i]), d[i], 2e-6 * (Math.Abs(dh[i]) + 1), $"dgelu[{i}]");
        }
    }
}

public class TransformerFp16Tests
{
    [Theory]
    [InlineData(1, 2, 8, 12, 24)]
    [InlineData(3, 2, 8, 12, 24)]
    public void Product_Fp16_IsTheProductOfTheFp16RoundedOperands_AccumulatedInFp32(int cc, int rows, int n, int c, int f)
    {
        var p = TransformerPhaseTests.Program(cc, rows, n, c, f, 3, n);
        var g = p.Grid;
        var x = TransformerPhaseTests.Random(g.Tokens * c, 51, 2);
        var w = TransformerPhaseTests.Random(f * c, 52);
        var b = TransformerPhaseTests.Random(f, 53);
        p.Write(p.Memory.Ln2, x, c);
        p.Run(new ProductPhase("fc16", g, p.Memory, p.Memory.Ln2, g.K, p.Memory.Fch, OutputMap.Block(f, cc), (i, col, r) => w[i * c + col * g.K + r], i => b[i], fp16: true));
        var got = p.Read(p.Memory.Fch, f);
        static double H(float v) => (double)(float)(Half)v;
        for (var t = 0; t < g.Tokens; t++)
            for (var o = 0; o < f; o++)
            {
                double want = H(b[o]), mag = Math.Abs(want);
                for (var i = 0; i < c; i++) { want += H(x[t * c + i]) * H(w[o * c + i]); mag += Math.Abs(H(x[t * c + i]) * H(w[o * c + i])); }
                Assert.True(Math.Abs(got[t * f + o] - want) <= 1e-6 * mag + 1e-7, $"token {t} output {o}: {got[t * f + o]} vs {want}");
            }
    }

    [Fact]
    public void Block_Fp16_StaysWithinTheFp16OperandBound_OfTheFp32Block()
    {
        var p32 = TransformerPhaseTests.Program(2, 2, 8, 16, 64, 2, 8);
        var p16 = TransformerPhaseTests.Program(2, 2, 8, 16, 64, 2, 8);
        var g = p32.Grid;
        var w = BlockWeights.Random(16, 64, 9);
        var x = TransformerPhaseTests.Random(g.Tokens * 16, 54);
        p32.Write(p32.Memory.Inputs[0], x, 16);
        p16.Write(p16.Memory.Inputs[0], x, 16);
        new BlockSchedule(p32).Forward(0, w);
        new BlockSchedule(p16, fp16: true).Forward(0, w);
        var a = p32.Read(p32.Memory.Inputs[1], 16);
        var h = p16.Read(p16.Memory.Inputs[1], 16);
        var worst = Enumerable.Range(0, a.Length).Max(i => Math.Abs(a[i] - h[i]));
        // fp16 operands carry 11 bits: relative error 2^-11 per operand; the block output is O(1) here.
        Assert.InRange(worst, 1e-6, 2e-2);
        Assert.True(p16.Sim.Cycle < p32.Sim.Cycle, $"fp16 {p16.Sim.Cycle} cycles vs fp32 {p32.Sim.Cycle}");
    }
}

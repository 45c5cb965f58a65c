// Closed-form cycles of the weight-streaming forward product (WeightStreamForward), from the costs of
// docs/architecture.md §3: TS task start, SU DSD-op startup, L hop latency, R ramp latency, E execute latency (a
// fabric op's result waits E cycles before its ramp up). Derivation in
// src/Wafer.Kernels/WeightStreaming/README.md.
using Wafer.Fabric.Config;

namespace Wafer.Kernels.WeightStreaming;

public static class WeightStreamModel
{
    private static long Ceil(long a, long b) => (a + b - 1) / b;

    /// <summary>Cycles until the last output lands, for Cc columns, R worker rows, n tokens and k features per PE, D_out outputs.</summary>
    /// <param name="macCycles">Cycles of one output's k FMACs; default the fp32 @fmacs, k (SU + n / FMAC width).</param>
    public static long ForwardCycles(WaferConfig c, int cc, int rows, int n, int k, int dOut, long? macCycles = null)
    {
        long ts = c.TaskStartCycles, su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles, e = c.ExecuteLatencyCycles;
        // One output on one PE: receive k weights, zero P, k FMACs over n tokens, the row step (n wavelets).
        var compute = su + k + su + Ceil(n, c.SimdWidthFp32Add) + (macCycles ?? k * (su + Ceil(n, c.SimdWidthFp32Mul)));
        // + the loop step, + the row op: n wavelets through the chain, or alone a memory copy at the fp32 move width.
        var period = 1 + compute + su + (cc == 1 ? Ceil(n, c.SimdWidthFp32Add) : n);
        // The chain: each column's row op finishes L + 2R + E after its western neighbour's (fabin -> add -> fabout); the
        // last column's add (its own start-up SU) completes the cycle after its last element lands.
        var chainSkew = cc == 1 ? 0 : (cc - 2) * (l + 2 * r + e) + l + r + e + su + 1;
        // The first weight reaches row R after the edge PE's task start, its fabout start-up and ramp, R hops and the
        // worker's ramp; the worker's first receive op starts while it waits, so its start-up is hidden.
        var firstWeight = ts + su + e + r + rows * l + r - su;
        return firstWeight + dOut * period + chainSkew;
    }

    /// <summary>Cycles of the input-gradient product (WeightStreamInputGradient); derivation in the README.</summary>
    public static long InputGradientCycles(WaferConfig c, int cc, int rows, int n, int k, int dOut)
    {
        long ts = c.TaskStartCycles, su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles, e = c.ExecuteLatencyCycles;
        var zero = su + Ceil((long)k * n, c.SimdWidthFp32Add);
        // One output on one PE: the loop step, receive k weights, move dY[:, o] (send or receive n), k FMACs.
        var period = 1 + su + k + su + n + k * (su + Ceil(n, c.SimdWidthFp32Mul));
        if (cc == 1) period -= su + n; // alone: dY is already in memory
        var firstWeight = ts + su + e + r + rows * l + r - su;
        var start = Math.Max(firstWeight, ts + 1 + zero);
        var skew = cc == 1 ? 0 : (cc - 1) * l + e + 2 * r;
        return start + dOut * period + skew;
    }

    /// <summary>Cycles of the weight-gradient product (WeightStreamWeightGradient); derivation in the README.</summary>
    /// <param name="fp16">The FMACs are @fmachs (mixed width) over fp16 rows of X, stride n: the width capped by the
    /// stride as for any strided DSD (docs/architecture.md §3); a contiguous row (n = 1) also meets the bank rule.</param>
    public static long WeightGradientCycles(WaferConfig c, int cc, int rows, int n, int k, int dOut, bool fp16 = false)
    {
        long ts = c.TaskStartCycles, su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles, e = c.ExecuteLatencyCycles;
        var macWidth = c.SimdWidthFp32Mul;
        if (fp16)
        {
            macWidth = Wafer.Fabric.Pe.Dsd.Mem1D(0, k, n).StrideWidthCap(c.SimdWidthFp32Add);
            if (n == 1) macWidth = Math.Max(1, macWidth / 2); // P and X's row: contiguous sources, not 4 banks apart
        }
        // One output on one PE: the loop step, move dY[:, o] (send or receive n; nothing alone), zero P, n FMACs of
        // length k, the column step of k wavelets.
        var period = 1 + (cc == 1 ? 0 : su + n) + su + Ceil(k, c.SimdWidthFp32Add) + n * (su + Ceil(k, macWidth)) + su + k;
        var rowSkew = cc == 1 ? 0 : (cc - 1) * l + e + 2 * r;
        // The column chain: each adding hop L + 2R + E, the edge's receive the last L + R (+ E) and its own start-up.
        var columnSkew = (rows - 1) * (l + 2 * r + e) + l + r + e + su;
        return ts + 1 + dOut * period + rowSkew + columnSkew;
    }

    /// <summary>Cycles of the overlapped forward product (wsmm-overlap): the row step of output o runs while o + 1 computes.</summary>
    public static long ForwardOverlappedCycles(WaferConfig c, int cc, int rows, int n, int k, int dOut, long? macCycles = null)
    {
        long ts = c.TaskStartCycles, su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles, e = c.ExecuteLatencyCycles;
        if (cc == 1) return ForwardCycles(c, cc, rows, n, k, dOut, macCycles); // alone: the row step is a memory copy, not async
        var compute = 1 + su + k + su + Ceil(n, c.SimdWidthFp32Add) + (macCycles ?? k * (su + Ceil(n, c.SimdWidthFp32Mul))) + 1;
        var rowStep = su + n;
        var period = Math.Max(compute, rowStep);
        var chainSkew = (cc - 2) * (l + 2 * r + e) + l + r + e + su + 1;
        var firstWeight = ts + su + e + r + rows * l + r - su;
        return firstWeight + dOut * period + rowStep + chainSkew - 1 - su;
    }

    /// <summary>One output's k @fmachs (fp16 X_f times an fp16 weight into fp32 P) at the mixed width (the fp32-add
    /// width), halved for the X_f whose word address breaks the bank rule against P (WeightStreamLayout places P 4
    /// banks from X, so none does when n % 8 == 0).</summary>
    public static long MixedMacCycles(WaferConfig c, int k, int n)
    {
        long total = 0;
        var pAddress = WeightStreamLayout.Fp16PartialSumsAddress(k, n);
        for (var f = 0; f < k; f++) total += OpCycles.Memory(c, n, c.SimdWidthFp32Add, pAddress, 2 * f * n);
        return total;
    }

    /// <summary>The fp16 input gradient (wsmm-dx-fp16): as InputGradientCycles, with the k FMACs of output o as
    /// @fmachs at the mixed width, halved per feature where dX_f and dY_o's addresses break the bank rule; the columns
    /// keep step with each other through the dY multicast, so each output costs the slower column kind's period.</summary>
    public static long InputGradientCyclesFp16(WaferConfig c, int cc, int rows, int n, int k, int dOut, (int Dx, int Gradient) addresses)
    {
        long ts = c.TaskStartCycles, su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles, e = c.ExecuteLatencyCycles;
        var zero = su + Ceil((long)k * n, c.SimdWidthFp32Add);
        long Macs((int Dx, int Gradient) a, int gradientWord)
        {
            long total = 0;
            for (var f = 0; f < k; f++) total += OpCycles.Memory(c, n, c.SimdWidthFp32Add, a.Dx + 4 * f * n, 2 * gradientWord);
            return total;
        }
        var move = cc == 1 ? 0 : su + n;
        long sum = 0;
        for (var o = 0; o < dOut; o++)
        {
            // The last column reads dY[:, o] in place; the others receive it into one buffer at the same address.
            var period = 1 + su + k + move + Macs(addresses, addresses.Gradient / 2 + o * n);
            if (cc > 1) period = Math.Max(period, 1 + su + k + move + Macs(addresses, addresses.Gradient / 2));
            sum += period;
        }
        var firstWeight = ts + su + e + r + rows * l + r - su;
        var start = Math.Max(firstWeight, ts + 1 + zero);
        var skew = cc == 1 ? 0 : (cc - 1) * l + e + 2 * r;
        return start + sum + skew;
    }

    /// <summary>The sparse forward product (wsmm-sparse), whose work depends on the data: counts[x, o] non-zero weights
    /// of column x for output o. A schedule recursion over outputs and columns (every worker row of a column does the
    /// same work; the last row, R hops from the edge, gets its first weight last): per output a PE takes its count
    /// (a loop step, SU + 1), its c words (SU + c), zeroes P (SU + n / add width), and per non-zero a decode step and an
    /// @fmacs (1 + SU + n / FMAC width), with a continuation (1 cycle) between the three parts; then the row step, a
    /// chain east whose first and last elements are tracked (L + 2R + E per adding hop), or alone a copy into Y.</summary>
    public static long SparseForwardCycles(WaferConfig c, int cc, int rows, int n, int[,] counts)
    {
        long ts = c.TaskStartCycles, su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles, e = c.ExecuteLatencyCycles;
        var dOut = counts.GetLength(1);
        var ready = new long[cc];
        // The start task (TS) stores o and continues (1); the first count reaches row R after the edge's TS, SU, ramp,
        // R hops and the worker's ramp.
        var firstCount = ts + su + e + r + rows * l + r;
        Array.Fill(ready, ts + 1);
        long end = 0;
        for (var o = 0; o < dOut; o++)
        {
            long prevFirst = 0, prevLast = 0;
            for (var x = 0; x < cc; x++)
            {
                var nz = counts[x, o];
                var countIn = o == 0 ? Math.Max(ready[x] + 1 + su, firstCount) + 1 : ready[x] + 1 + su + 1;
                var compute = countIn + 1 + (nz > 0 ? su + nz : 0) + su + Ceil(n, c.SimdWidthFp32Add) + 1 + nz * (1 + su + Ceil(n, c.SimdWidthFp32Mul));
                if (cc == 1) { ready[x] = compute + su + Ceil(n, c.SimdWidthFp32Add); end = ready[x]; continue; }
                long first, last;
                if (x == 0) { first = compute + su; last = first + n - 1; }
                else
                {
                    first = Math.Max(prevFirst + l + r, compute + su);
                    last = Math.Max(prevLast + l + r, first + n - 1);
                }
                (prevFirst, prevLast) = (first + e + r, last + e + r);
                ready[x] = last + 1;
                end = Math.Max(end, ready[x]);
            }
        }
        return end + 1; // the last loop step, which finds o == D_out
    }
}

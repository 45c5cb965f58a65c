// The product phase's timeline, output by output and column by column (docs/transformer.md §4): each column's main
// thread receives the output's weights, computes its partial sums, and streams them along the row towards the owner;
// the owner adds both streams, its own partial, the bias and the residual. A stream's first and last element are
// tracked through the chain (StreamTiming: SU to start, E + 2R + L per hop), and a sender cannot run more than the hop's
// buffering (its output queue, the next router's buffer and the next input queue) ahead of its receiver, which couples
// every column to the owner's pace. The owner changes every kout outputs, so the pattern of waits changes with it. The
// column's weights arrive no faster than the MemoryX link's pace (cycles per value). Once every column's times advance
// by the same period for three outputs in a row, the rest of the owner's block repeats that period exactly (the
// recursion is max-plus linear), and is added at once: a wafer-wide product costs a few outputs per block to model.
using Wafer.Fabric.Config;

namespace Wafer.Kernels.Transformer;

internal static class ProductTiming
{
    /// <summary>Cycles of a product over the region: kin input rows per column, owner[i] of each output in stream order,
    /// bias and residual adds on the owner, ownerAdd the cycles of the owner's add of its partial when both chains
    /// arrive (its width depends on where the output row and the partial sums sit: the bank rule).</summary>
    public static long Cycles(WaferConfig w, LayerGrid g, int kin, int[] owner, bool bias, bool residual, long ownerAdd, long residualAdd,
        bool fp16 = false, double pace = 0)
    {
        int cc = g.Columns, n = g.N;
        long su = w.DsdOpStartupCycles, path = StreamTiming.Path(w);
        var depth = w.InputQueueDepthWords;
        var outDepth = w.OutputQueueDepthWords;
        long eastBuffer = outDepth[LayerColors.EastOut] + w.RouterBufferDepthWavelets + depth[LayerColors.EastIn];
        long westBuffer = outDepth[LayerColors.WestOut] + w.RouterBufferDepthWavelets + depth[LayerColors.WestIn];
        long biasAdd = su + (n + w.SimdWidthFp32Add - 1) / w.SimdWidthFp32Add;
        // The partial sums: fp32 (@fmuls, then @fmacs, one value a cycle each), or fp16 (the partials zeroed, then kin
        // @fmachs at the fp32-add width, halved for the rows the bank rule puts next to the partial sums: LayerMemory
        // places them 8 bytes past a 16-byte boundary, so row f collides unless f n is a multiple of 8).
        long compute = kin * (su + (n + w.SimdWidthFp32Mul - 1) / w.SimdWidthFp32Mul);
        if (fp16)
        {
            int add = w.SimdWidthFp32Add, half = Math.Max(1, add / 2);
            compute = su + (n + add - 1) / add;
            for (var f = 0; f < kin; f++) compute += su + (n + (f * n % 8 == 0 ? add : half) - 1) / (f * n % 8 == 0 ? add : half);
            // The owner's bias, an @fmachs against a row of fp16 ones (half width: the output row and the ones collide).
            biasAdd = su + n;
        }
        long twoQueues = depth[LayerColors.EastIn] + depth[LayerColors.WestIn];
        var ready = new double[cc];
        var first = new double[cc];
        var last = new double[cc];
        var prevFirst = new double[cc];
        // The task starts (TS), its body's Then (1); the first weights reach the first worker row after the edge's op
        // start-up, its execute stage and ramp, one hop and the row's ramp. Rows do not meet in a product: the others run the same timeline
        // one hop later each, so the last ends R - 1 cycles after the first.
        var weightsIn = w.TaskStartCycles + su + StreamTiming.Path(w);
        // fp16: the input block converted first (@fs2h, the conversion width).
        var convert = fp16 ? su + ((long)kin * n + w.SimdWidthConvert - 1) / w.SimdWidthConvert : 0;
        for (var x = 0; x < cc; x++) ready[x] = w.TaskStartCycles + convert + 1;
        // Values column x's stream has delivered (its weights and, on the owner's column, biases), and the link's
        // cycles per value (the stream never moves more than one a cycle).
        var streamed = new long[cc];
        var perValue = Math.Max(1.0, pace);
        var issue = new double[cc];
        var before = new double[4 * cc];
        double lastPeriod = -1;
        var stable = 0;
        for (var o = 0; o < owner.Length; o++)
        {
            var j = owner[o];
            for (var x = 0; x < cc; x++)
            {
                var received = kin + (bias && x == j ? 1 : 0);
                var recvStart = ready[x] + 1 + su;
                if (o == 0) recvStart = Math.Max(recvStart, weightsIn);
                streamed[x] += received;
                var arrived = weightsIn + (streamed[x] - 1) * perValue + 1;
                issue[x] = Math.Max(recvStart + received, arrived) + compute;
            }
            // West of the owner: a chain east from column 0; east of it: a chain west from the last column. First
            // elements depend only on upstream first elements; last elements also on the receiver (backpressure).
            for (var x = 0; x < j; x++) first[x] = x == 0 ? issue[x] + su : Math.Max(issue[x] + su, first[x - 1] + path);
            for (var x = cc - 1; x > j; x--) first[x] = x == cc - 1 ? issue[x] + su : Math.Max(issue[x] + su, first[x + 1] + path);
            {
                double f = issue[j] + su;
                if (j > 0) f = Math.Max(f, first[j - 1] + path);
                if (j < cc - 1) f = Math.Max(f, first[j + 1] + path);
                first[j] = f;
            }
            // Element i leaves only once the receiver has taken element i - buffer of the stream (the receiver takes an
            // output's elements from its first one on, one a cycle).
            long eastBehind = n - 1 - eastBuffer, westBehind = n - 1 - westBuffer;
            for (var x = 0; x < j; x++)
            {
                var l = first[x] + n - 1;
                if (x > 0) l = Math.Max(l, last[x - 1] + path);
                last[x] = Math.Max(l, eastBehind >= 0 ? first[x + 1] + eastBehind : prevFirst[x + 1] + n + eastBehind);
            }
            for (var x = cc - 1; x > j; x--)
            {
                var l = first[x] + n - 1;
                if (x < cc - 1) l = Math.Max(l, last[x + 1] + path);
                last[x] = Math.Max(l, westBehind >= 0 ? first[x - 1] + westBehind : prevFirst[x - 1] + n + westBehind);
            }
            {
                double l = first[j] + n - 1;
                if (j > 0) l = Math.Max(l, last[j - 1] + path);
                if (j < cc - 1) l = Math.Max(l, last[j + 1] + path);
                if (j > 0 && j < cc - 1)
                {
                    // Both chains reach the owner's engine through its one ramp: at most one wavelet a cycle for the
                    // 2n, some of them already in the two input queues when the op starts.
                    // The chains' elements that arrived while the owner computed wait in its two input queues; the
                    // rest come up the ramp one a cycle once the op starts taking pairs, each R cycles to become visible.
                    var arrive = Math.Min(first[j - 1], first[j + 1]) + path;
                    var start = issue[j];
                    var queued = Math.Min(twoQueues, Math.Max(0, start - arrive));
                    if (2L * n > queued) l = Math.Max(l, start + (2L * n - queued) + w.RampLatencyCycles + 1);
                }
                last[j] = l;
                // One column: the owner moves its partial sums into the output row (a memory op, no chain).
                var own = cc == 1 ? su + (n + w.SimdWidthFp32Add - 1) / w.SimdWidthFp32Add - (su + n) : 0;
                ready[j] = l + 1 + own + (j > 0 && j < cc - 1 ? ownerAdd : 0) + (bias ? biasAdd : 0) + (residual ? residualAdd : 0);
            }
            for (var x = 0; x < cc; x++)
            {
                if (x != j) ready[x] = last[x] + 1;
                prevFirst[x] = first[x];
            }
            // The skip-ahead: a common period for three outputs of one owner, then the rest of its block at once (all
            // but its last output, which leads into the next owner's block).
            var period = ready[0] - before[0];
            var same = o > 0 && owner[o - 1] == j;
            for (var x = 0; x < cc && same; x++)
                same = Near(ready[x] - before[x], period) && Near(first[x] - before[cc + x], period) && Near(last[x] - before[2 * cc + x], period);
            stable = same && Near(period, lastPeriod) ? stable + 1 : 0;
            lastPeriod = same ? period : -1;
            for (var x = 0; x < cc; x++) { before[x] = ready[x]; before[cc + x] = first[x]; before[2 * cc + x] = last[x]; }
            if (stable >= 2)
            {
                var end = o + 1;
                while (end < owner.Length && owner[end] == j) end++;
                var skip = end - 1 - (o + 1);
                if (skip > 0)
                {
                    for (var x = 0; x < cc; x++)
                    {
                        ready[x] += skip * period; first[x] += skip * period; last[x] += skip * period; prevFirst[x] += skip * period;
                        before[x] = ready[x]; before[cc + x] = first[x]; before[2 * cc + x] = last[x];
                        streamed[x] += skip * (kin + (bias && x == j ? 1 : 0));
                    }
                    o += skip;
                }
            }
        }
        // Times are fractional where the link's pace is (a value every 11.6 cycles, say): rounded up at the end.
        return (long)Math.Ceiling(ready.Max() - 1e-6) - 1 + (g.Rows - 1L) * w.HopLatencyCycles;
    }

    private static bool Near(double a, double b) => Math.Abs(a - b) < 1e-6;
}

// Cycle model of stencil25, from the costs of docs/architecture.md §3 (TS task start, SU DSD start-up, L hop, R ramp,
// SIMD widths and the bank rule): a schedule recursion over the PEs of the grid rather than one formula, because a
// PE's ops wait on other PEs' ops. Per time step, per round, per direction in program order, every stream (a sender and
// its 1-4 receivers) starts when its last participant is ready; the sender is busy for its column and the control
// wavelet, each receiver until the column arrived (SU + nz + the E + 2R + dL path) plus its FADD into the accumulator;
// streams through input queues shallower than R + 1 (S and N here) move (R + 1) / depth cycles per wavelet.
// Between rounds a PE pays the Then and Activate ops (1 each), the round task's start (TS) and one control task (TS)
// per column it received in the round before the last one (those control wavelets gate the next round's reads: the
// picker reaches them only when the main thread idles). Then the update: 9 FMACs, an FMUL, an FSUB and two FADDs.
// Not modelled: the buffering that lets a sender run a few wavelets ahead of a late receiver (so the model errs long).
using Wafer.Fabric.Config;

namespace Wafer.Kernels.Stencil;

public static class StencilModel
{
    /// <summary>Bytes of each symbol, in the order Stencil25 declares them (addresses follow, 4-byte aligned from 0).</summary>
    internal static (int U0, int U1, int V2, int Acc, int Tmp) Addresses(int nz, int block)
    {
        var padded = 4 * (nz + 2 * Stencil25.Radius);
        return (0, padded, 2 * padded, 2 * padded + 4 * nz, 2 * padded + 4 * nz + 4 * block);
    }

    /// <summary>Cycles of an fp32 add/sub of n elements over two contiguous memory sources at byte addresses a, b:
    /// SU + ceil(n / width), the width halved when the sources' 16-bit word addresses break the bank rule.</summary>
    private static long AddCycles(WaferConfig c, int n, int a, int b) => OpCycles.Memory(c, n, c.SimdWidthFp32Add, a, b);

    /// <summary>Cycles of `steps` time steps on w x h PEs, the column of nz cells processed in blocks of `block` cells
    /// (0: one block of nz).</summary>
    public static long Cycles(WaferConfig c, int w, int h, int nz, int steps, int block = 0)
    {
        if (block <= 0) block = nz;
        long ts = c.TaskStartCycles, su = c.DsdOpStartupCycles, l = c.HopLatencyCycles, r = c.RampLatencyCycles;
        var (u0, u1, _, acc, tmp) = Addresses(nz, block);
        var blocks = (nz + block - 1) / block;
        var pes = w * h;
        var ready = new long[pes];
        Array.Fill(ready, ts + 1); // the start task: TS, then Activate of the first round
        var wroteAcc = new bool[pes];
        // Columns each PE received in each round of the step before (their control tasks run before the next round
        // on the same color: round 0 after round 4, round 1 after round 3, round q after round q - 2).
        var received = new int[Stencil25.Rounds, pes];
        for (var step = 0; step < steps; step++)
        for (var k = 0; k < blocks; k++)
        {
            var n = Math.Min(block, nz - k * block);
            var mul = su + (n + c.SimdWidthFp32Mul - 1) / c.SimdWidthFp32Mul;
            var accumulate = AddCycles(c, n, acc, tmp);
            Array.Clear(wroteAcc);
            for (var round = 0; round < Stencil25.Rounds; round++)
            {
                var gate = round switch { 0 => 4, 1 => 3, _ => round - 2 };
                for (var p = 0; p < pes; p++) { ready[p] += received[gate, p] * ts + ts; received[gate, p] = 0; }
                foreach (var way in Stencil25.Ways)
                {
                    // Senders of this round and direction, each with its receivers.
                    var endOf = (long[])ready.Clone();
                    for (var y = 0; y < h; y++)
                        for (var x = 0; x < w; x++)
                        {
                            var (i, len) = Stencil25.Along(way, x, y, w, h);
                            if (Stencil25.Role(i, len, round) >= 0) continue;
                            var sender = y * w + x;
                            var members = new List<(int Pe, int Distance)>();
                            for (var d = 1; d <= Stencil25.Radius && i + d < len; d++) members.Add((Neighbour(way, x, y, d, w), d));
                            var start = ready[sender];
                            foreach (var (pe, _) in members) start = Math.Max(start, ready[pe]);
                            // A queue shallower than R + 1 holds a slot R cycles past each push: the stream then moves
                            // depth / (R + 1) wavelets per cycle (S and N use queues 4-7, 2 deep on WSE-2).
                            var depth = c.InputQueueDepthWords[Stencil25.InQueue(way, round)];
                            var span = StreamTiming.Span(c, n, depth);
                            endOf[sender] = start + su + span + su + 1; // the column, then the control wavelet
                            foreach (var (pe, d) in members)
                            {
                                var arrived = start + su + span + c.ExecuteLatencyCycles + 2 * r + d * l;
                                endOf[pe] = arrived + (wroteAcc[pe] ? accumulate : 0);
                                wroteAcc[pe] = true;
                                received[round, pe]++;
                            }
                        }
                    ready = endOf;
                }
                for (var p = 0; p < pes; p++) ready[p] += 2; // Then, Activate (the next round or the update)
            }
            // The update: centre and z FMACs, acc *= v2, next = u - prev, next += u, next += acc; Then (+ Activate).
            var (cur, prev) = step % 2 == 0 ? (u0, u1) : (u1, u0);
            var z0 = 4 * (Stencil25.Radius + k * block);
            var last = step + 1 == steps && k + 1 == blocks;
            var update = ts + (9 + 1) * mul + AddCycles(c, n, cur + z0, prev + z0) + AddCycles(c, n, prev + z0, cur + z0)
                         + AddCycles(c, n, prev + z0, acc) + 1 + (last ? 0 : 1);
            for (var p = 0; p < pes; p++) ready[p] += update;
        }
        return ready.Max();
    }

    private static int Neighbour(Stencil25.Way way, int x, int y, int d, int w) => way switch
    {
        Stencil25.Way.East => y * w + x + d,
        Stencil25.Way.West => y * w + x - d,
        Stencil25.Way.South => (y + d) * w + x,
        _ => (y - d) * w + x,
    };
}

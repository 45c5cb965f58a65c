// The weight-streaming forward product with unstructured weight sparsity (docs/sources.md §5.4: only non-zero weights are
// sent; each arriving weight triggers the FMACs it feeds). Same layout, routes and row reduction as wsmm; the edge PE
// streams, per output, a count word then one wavelet per non-zero weight: feature index in the high 16 bits, the
// weight as fp16 in the low 16 (fp16 weights, fp32 activations and accumulation). A worker reads the count, receives
// that many words, and per word decodes it (1 scalar cycle) and issues one FMAC over its n tokens.
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Kernels.Proofs;

namespace Wafer.Kernels.WeightStreaming;

public sealed class WeightStreamSparse : IFabricDemo
{
    public const int StartTask = 10;

    public string Name => "wsmm-sparse";
    public string Description => "weight-streaming forward Y = X W sending only non-zero weights (fp16 index+value wavelets); --sparsity sets the zero fraction";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block | SizeOptions.Outputs | SizeOptions.Sparsity;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var (cc, r, n, k, dOut) = WeightStreamLayout.Shape(Name, wafer, size);
        if (k > ushort.MaxValue) throw new WaferInputException($"{Name}: at most {ushort.MaxValue} features per PE fit the 16-bit index (is {k})");
        var layout = WeightStreamLayout.Build(cc, r);
        // Encode first: each edge PE streams exactly its column's words (a count per output, then its non-zeros).
        var weights = new float[cc][];
        var streams = new float[cc][];
        long nonZeros = 0;
        for (var x = 0; x < cc; x++)
        {
            weights[x] = SparseWeights(size.Seed, x, k, dOut, size.Sparsity);
            var stream = new List<float>();
            for (var o = 0; o < dOut; o++)
            {
                var nz = Enumerable.Range(0, k).Where(f => weights[x][o * k + f] != 0).ToArray();
                stream.Add(BitConverter.Int32BitsToSingle(nz.Length));
                foreach (var f in nz)
                    stream.Add(BitConverter.UInt32BitsToSingle(((uint)f << 16) | BitConverter.HalfToUInt16Bits((Half)weights[x][o * k + f])));
                nonZeros += nz.Length;
            }
            streams[x] = stream.ToArray();
        }
        var codes = new Dictionary<(int, int), PeCode>();
        var injectors = new Dictionary<int, PeCode>();
        layout.SetCode((x, y) =>
        {
            if (y == 0)
            {
                var words = streams[x].Length;
                if (!injectors.TryGetValue(words, out var edge)) injectors[words] = edge = WeightStreamLayout.Injector(words, StartTask);
                return edge;
            }
            var key = (WeightStreamLayout.Role(x, cc), x & 1);
            if (!codes.TryGetValue(key, out var code)) codes[key] = code = Worker(key.Item1, x, k, n, dOut);
            return code;
        });
        var sim = new Simulator(wafer, layout, options);

        // The host (MemoryX) sends each column's encoded block: per output a count, then (index, fp16 value) per non-zero.
        var xBlock = new float[k * n];
        for (var x = 0; x < cc; x++)
        {
            sim.Host.MemcpyH2D("W", x, 0, streams[x]);
            for (var y = 1; y <= r; y++)
            {
                WeightStreamLayout.ActivationBlock(size.Seed, x, y, xBlock);
                sim.Host.MemcpyH2D("X", x, y, xBlock);
            }
        }
        sim.Host.EndBatch();
        sim.Launch(StartTask);
        sim.Run();
        var got = sim.Host.MemcpyD2H("Y", cc - 1, 1, 1, r, dOut * n);
        var (maxErr, tol) = WeightStreamLayout.Check(got, size.Seed, cc, r, n, k, dOut, x => weights[x], xBlock);
        var parameters = new Dictionary<string, object>
        {
            ["columns"] = cc, ["workerRows"] = r, ["tokensPerPe"] = n, ["featuresPerPe"] = k, ["outputs"] = dOut,
            ["sparsity"] = size.Sparsity, ["nonZeroWeights"] = nonZeros, ["weights"] = (long)k * cc * dOut,
        };
        var extra = new Dictionary<string, double> { ["macs"] = (double)n * r * nonZeros, ["zeroFraction"] = 1 - (double)nonZeros / ((long)k * cc * dOut) };
        var counts = new int[cc, dOut];
        for (var x = 0; x < cc; x++)
            for (var o = 0; o < dOut; o++)
                counts[x, o] = Enumerable.Range(0, k).Count(f => weights[x][o * k + f] != 0);
        return new DemoResult(sim, maxErr, tol, parameters, extra, WeightStreamModel.SparseForwardCycles(wafer, cc, r, n, counts));
    }

    /// <summary>Weights of column x rounded to fp16 (what travels), each zero with probability `sparsity`.</summary>
    private static float[] SparseWeights(long seed, int x, int k, int dOut, double sparsity)
    {
        var w = new float[dOut * k];
        WeightStreamLayout.WeightBlock(seed, x, w);
        var rng = new Random(Seeds.For(seed, x, -2));
        for (var i = 0; i < w.Length; i++) w[i] = rng.NextDouble() < sparsity ? 0f : (float)(Half)w[i];
        return w;
    }

    private static PeCode Worker(int role, int x, int k, int n, int dOut)
    {
        var code = WeightStreamLayout.WorkerCode($"wsmm-sparse-{role}-{x & 1}", role, x, k, n, dOut).Symbol("cnt", 4).Symbol("c", 4);
        int xAddress = code.AddressOf("X"), pAddress = code.AddressOf("P"), wAddress = code.AddressOf("Wb"), oAddress = code.AddressOf("o");
        int cntAddress = code.AddressOf("cnt"), cAddress = code.AddressOf("c");
        var yAddress = role is 2 or 3 ? code.AddressOf("Y") : -1;
        var p = Dsd.Mem1D(pAddress, n);
        var xs = Enumerable.Range(0, k).Select(f => Dsd.Mem1D(xAddress + f * n * 4, n)).ToArray();
        Action<TaskContext>? loop = null, afterCount = null, afterWeights = null;
        loop = ctx =>
        {
            var o = ctx.LoadI32(oAddress);
            if (o == dOut) return;
            ctx.StoreI32(oAddress, o + 1);
            ctx.Fmovs(Dsd.Mem1D(cntAddress, 1), Dsd.FabIn(WeightStreamLayout.WeightColor, 1, WeightStreamLayout.WeightInQueue));
            ctx.Then(afterCount!);
        };
        afterCount = ctx =>
        {
            var c = ctx.LoadI32(cntAddress);
            if (c < 0 || c > k) throw new WaferInputException($"wsmm-sparse: a count of {c} non-zero weights for {k} features");
            ctx.StoreI32(cAddress, c);
            if (c > 0) ctx.Fmovs(Dsd.Mem1D(wAddress, c), Dsd.FabIn(WeightStreamLayout.WeightColor, c, WeightStreamLayout.WeightInQueue));
            ctx.Fmovs(p, 0f);
            ctx.Then(afterWeights!);
        };
        afterWeights = ctx =>
        {
            // Scalar reads first (ops issued below run later), then one decode and one FMAC per non-zero weight.
            var c = ctx.LoadI32(cAddress);
            var o = ctx.LoadI32(oAddress) - 1;
            Span<uint> words = c <= 4096 ? stackalloc uint[c] : new uint[c]; // per call: PEs sharing this code run on several threads
            for (var i = 0; i < c; i++) words[i] = (uint)ctx.LoadI32(wAddress + 4 * i);
            for (var i = 0; i < c; i++)
            {
                var f = (int)(words[i] >> 16);
                if (f >= k) throw new WaferInputException($"wsmm-sparse: feature index {f} outside the PE's {k} features");
                ctx.Scalar(1); // decode: shift and half-to-float of the word
                ctx.Fmacs(p, p, xs[f], (float)BitConverter.UInt16BitsToHalf((ushort)words[i]));
            }
            WeightStreamLayout.IssueRowStep(ctx, role, x, n, p, yAddress + o * n * 4);
            ctx.Then(loop!);
        };
        code.LocalTask(StartTask, ctx =>
        {
            ctx.StoreI32(oAddress, 0);
            ctx.Then(loop);
        });
        return code;
    }
}

// Elementwise layer pieces on the block layout (PE (x, y): k features x n tokens, one contiguous k n block): GELU
// (GPT-2's tanh form) and the residual add. No fabric traffic: every PE works on its own block.
// gelu: t = x x, t = t x (@fmuls), u = x + 0.044715 t (@fmacs), u *= sqrt(2 / pi) (@fmuls), tanh per value in scalar
// code (ScalarMath.TanhCycles: no vector tanh in the ISA), th += 1 (@fadds), y = th x (@fmuls), y *= 0.5 (@fmuls).
// residual: y = x + r (@fadds).
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Layers;

public sealed class Elementwise(bool gelu) : IFabricDemo
{
    public const int StartTask = 10;
    private static readonly float Scale = MathF.Sqrt(2f / MathF.PI);
    private const float Cubic = 0.044715f;

    public string Name => gelu ? "gelu" : "residual";
    public string Description => gelu
        ? "GELU (tanh form) on every PE's k x n block: vector ops plus tanh in scalar code (--length n, --block k)"
        : "residual add y = x + r on every PE's k x n block (--length n, --block k)";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var (w, h, n, k) = BlockLayout.Shape(Name, wafer, size);
        var layout = new FabricLayout(w, h);
        var len = k * n;
        var code = Code(len);
        layout.SetCode((_, _) => code);
        var sim = new Simulator(wafer, layout, options);
        var rng = new Random(Seeds.For(size.Seed, w, h));
        var xs = new float[w * h * len];
        var rs = new float[w * h * len];
        for (var i = 0; i < xs.Length; i++) { xs[i] = (float)(rng.NextDouble() * 8 - 4); rs[i] = (float)(rng.NextDouble() * 2 - 1); }
        sim.Host.MemcpyH2D("X", 0, 0, w, h, xs, len);
        sim.Host.MemcpyH2D("R", 0, 0, w, h, rs, len);
        sim.Launch(StartTask);
        sim.Run();
        var got = sim.Host.MemcpyD2H("Y", 0, 0, w, h, len);
        double maxErr = 0, tol = 0;
        for (var i = 0; i < xs.Length; i++)
        {
            double x = xs[i];
            var want = gelu ? 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + Cubic * x * x * x))) : x + rs[i];
            maxErr = Math.Max(maxErr, Math.Abs(got[i] - want));
            tol = Math.Max(tol, 4e-7 * (Math.Abs(x) + 1) * (gelu ? 4 : 1));
        }
        var parameters = new Dictionary<string, object> { ["width"] = w, ["height"] = h, ["tokensPerPe"] = n, ["featuresPerPe"] = k };
        return new DemoResult(sim, maxErr, tol, parameters, new Dictionary<string, double>(), Model(wafer, gelu, len));
    }

    /// <summary>Symbols X, R, T (scratch), Y, each k n floats.</summary>
    internal static (int X, int R, int T, int Y) Addresses(int len) => (0, 4 * len, 8 * len, 12 * len);

    private PeCode Code(int len)
    {
        var (xAddr, rAddr, tAddr, yAddr) = Addresses(len);
        var code = new PeCode(Name).SymbolF32("X", len).SymbolF32("R", len).SymbolF32("T", len).SymbolF32("Y", len);
        Dsd x = Dsd.Mem1D(xAddr, len), r = Dsd.Mem1D(rAddr, len), t = Dsd.Mem1D(tAddr, len), y = Dsd.Mem1D(yAddr, len);
        code.LocalTask(StartTask, ctx =>
        {
            if (!gelu)
            {
                ctx.Fadds(y, x, r);
                return;
            }
            ctx.Fmuls(t, x, x);
            ctx.Fmuls(t, t, x);
            ctx.Fmacs(t, x, t, Cubic);   // u = x + 0.044715 x^3
            ctx.Fmuls(t, t, Scale);
            ctx.Then(next =>
            {
                for (var i = 0; i < len; i++) next.StoreF32(tAddr + 4 * i, MathF.Tanh(next.LoadF32(tAddr + 4 * i)));
                next.Scalar(len * ScalarMath.TanhCycles);
                next.Fadds(t, t, 1f);
                next.Fmuls(y, t, x);
                next.Fmuls(y, y, 0.5f);
            });
        });
        return code;
    }


    /// <summary>Closed form: TS plus each op's SU + ceil(len / width) (bank rule from the addresses), and for GELU the
    /// Then and len TanhCycles of scalar code.</summary>
    public static long Model(WaferConfig c, bool gelu, int len)
    {
        var (xAddr, rAddr, tAddr, _) = Addresses(len);
        long add = c.SimdWidthFp32Add, mul = c.SimdWidthFp32Mul;
        if (!gelu) return c.TaskStartCycles + OpCycles.Memory(c, len, (int)add, xAddr, rAddr);
        return c.TaskStartCycles + OpCycles.Memory(c, len, (int)mul, xAddr, xAddr) + OpCycles.Memory(c, len, (int)mul, tAddr, xAddr) + OpCycles.Memory(c, len, (int)mul, xAddr, tAddr)
               + OpCycles.Memory(c, len, (int)mul, tAddr, -1) + 1 + (long)len * ScalarMath.TanhCycles
               + OpCycles.Memory(c, len, (int)add, tAddr, -1) + OpCycles.Memory(c, len, (int)mul, tAddr, xAddr) + OpCycles.Memory(c, len, (int)mul, -1, -1);
    }
}

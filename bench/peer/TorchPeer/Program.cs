// nanoGPT's model (Karpathy's model.py at the shapes the trainer's benchmarks use) on libtorch 2.10 through TorchSharp,
// trained the way the nano recipe trains it (AdamW betas 0.9/0.99, weight decay 0.1 on matrices only, clip 1.0, fp32),
// timed per iteration on random tokens: the same work as bench/Wafer.Bench's train-step lines. Attention is nanoGPT's
// "flash" path (scaled_dot_product_attention, is_causal), which model.py takes on torch >= 2.0; --manual-attention
// gives its masked-softmax path instead. Usage: run.sh [threads] [seconds] [nano|gpt2-124m] [--manual-attention]
using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

var manual = args.Contains("--manual-attention");
var positional = args.Where(a => a != "--manual-attention").ToArray();
var threads = 2;
var seconds = 10.0;
if (positional.Length > 0 && (!int.TryParse(positional[0], out threads) || threads <= 0))
    return Refuse($"TorchPeer: threads must be a positive whole number, not '{positional[0]}'");
if (positional.Length > 1 && (!double.TryParse(positional[1], System.Globalization.CultureInfo.InvariantCulture, out seconds) || seconds <= 0))
    return Refuse($"TorchPeer: seconds must be a positive number, not '{positional[1]}'");
if (positional.Length > 2 && positional[2] is not ("nano" or "gpt2-124m"))
    return Refuse($"TorchPeer: the model is nano or gpt2-124m, not '{positional[2]}'");
if (positional.Length > 3)
    return Refuse($"TorchPeer: unexpected argument '{positional[3]}' (usage: run.sh [threads] [seconds] [nano|gpt2-124m] [--manual-attention])");
var gpt2 = positional.Length > 2 && positional[2] == "gpt2-124m";
torch.set_num_threads(threads);
torch.set_num_interop_threads(1);
torch.manual_seed(1337);
// nano: L4 C128 NH4 V65 T64, batch 12; gpt2-124m: L12 C768 NH12 V50304 (padded, as llm.c), batch 4, T 64.
var (layers, c, nh, vocab, t, b) = gpt2 ? (12, 768, 12, 50304, 64, 4) : (4, 128, 4, 65, 64, 12);
var model = new Gpt(layers, c, nh, vocab, t, manual);
var decay = model.parameters().Where(p => p.dim() >= 2).ToList();
var other = model.parameters().Where(p => p.dim() < 2).ToList();
var opt = torch.optim.AdamW(new[]
{
    new AdamW.ParamGroup(decay, new AdamW.Options { weight_decay = 0.1 }),
    new AdamW.ParamGroup(other, new AdamW.Options { weight_decay = 0.0 }),
}, lr: 1e-3, beta1: 0.9, beta2: 0.99);
var g = new Generator(1);
var x = torch.randint(0, gpt2 ? 50257 : 65, [b, t], generator: g);
var y = torch.randint(0, gpt2 ? 50257 : 65, [b, t], generator: g);

// The optimizer's share is timed apart: TorchSharp's AdamW loops over the parameters in C# (PyTorch's CPU default is
// the multi-tensor "foreach" form), so that part may cost libtorch more here than it does from Python.
var optimizerMs = 0.0;
void Step()
{
    using var scope = torch.NewDisposeScope();
    var loss = model.Loss(x, y);
    opt.zero_grad();
    loss.backward();
    var o = Stopwatch.StartNew();
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0);
    opt.step();
    optimizerMs += o.Elapsed.TotalMilliseconds;
}

for (var i = 0; i < (gpt2 ? 2 : 20); i++) Step();
var times = new List<double>();
optimizerMs = 0;
var sw = Stopwatch.StartNew();
while (sw.Elapsed.TotalSeconds < seconds || times.Count < 5)
{
    var s = Stopwatch.StartNew();
    Step();
    times.Add(s.Elapsed.TotalMilliseconds);
}
var mean = sw.Elapsed.TotalMilliseconds / times.Count;
times.Sort();
Console.WriteLine($"libtorch {torch.__version__} (TorchSharp) step {(gpt2 ? "gpt2-124m (B4 T64)" : "nano (L4 C128 NH4 V65, B12 T64)")}, " +
                  $"{threads} threads, {(manual ? "masked-softmax" : "sdpa")} attention: {mean:F1} ms/step ({times.Count} steps; " +
                  $"median {times[times.Count / 2]:F1}, p10 {times[times.Count / 10]:F1}, fastest {times[0]:F1} ms; " +
                  $"clipping and AdamW {optimizerMs / times.Count:F1} ms of the mean)");
return 0;

static int Refuse(string message)
{
    Console.Error.WriteLine(message);
    return 2;
}

internal sealed class Attention : nn.Module<Tensor, Tensor>
{
    private readonly Linear c_attn, c_proj;
    private readonly int nh;
    private readonly bool manual;
    private readonly Tensor mask;

    public Attention(int c, int nh, int t, bool manual) : base(nameof(Attention))
    {
        c_attn = nn.Linear(c, 3 * c);
        c_proj = nn.Linear(c, c);
        this.nh = nh;
        this.manual = manual;
        mask = torch.tril(torch.ones(t, t)).view(1, 1, t, t);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var (b, t, c) = (x.shape[0], x.shape[1], x.shape[2]);
        var qkv = c_attn.forward(x).split(c, 2);
        var q = qkv[0].view(b, t, nh, c / nh).transpose(1, 2);
        var k = qkv[1].view(b, t, nh, c / nh).transpose(1, 2);
        var v = qkv[2].view(b, t, nh, c / nh).transpose(1, 2);
        Tensor yh;
        if (manual)
        {
            var att = q.matmul(k.transpose(-2, -1)) * (1.0 / Math.Sqrt(k.shape[3]));
            att = att.masked_fill(mask[.., .., ..(int)t, ..(int)t] == 0, double.NegativeInfinity);
            yh = F.softmax(att, -1).matmul(v);
        }
        else yh = F.scaled_dot_product_attention(q, k, v, is_casual: true);
        return c_proj.forward(yh.transpose(1, 2).contiguous().view(b, t, c));
    }
}

internal sealed class Block : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm ln_1, ln_2;
    private readonly Attention attn;
    private readonly Linear c_fc, c_proj;

    public Block(int c, int nh, int t, bool manual) : base(nameof(Block))
    {
        ln_1 = nn.LayerNorm(c);
        attn = new Attention(c, nh, t, manual);
        ln_2 = nn.LayerNorm(c);
        c_fc = nn.Linear(c, 4 * c);
        c_proj = nn.Linear(4 * c, c);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        x = x + attn.forward(ln_1.forward(x));
        return x + c_proj.forward(F.gelu(c_fc.forward(ln_2.forward(x)), GELU.Approximate.tanh));
    }
}

internal sealed class Gpt : nn.Module
{
    private readonly Embedding wte, wpe;
    private readonly ModuleList<Block> h;
    private readonly LayerNorm ln_f;
    private readonly Linear lm_head;

    public Gpt(int layers, int c, int nh, int vocab, int t, bool manual) : base(nameof(Gpt))
    {
        wte = nn.Embedding(vocab, c);
        wpe = nn.Embedding(t, c);
        h = nn.ModuleList(Enumerable.Range(0, layers).Select(_ => new Block(c, nh, t, manual)).ToArray());
        ln_f = nn.LayerNorm(c);
        lm_head = nn.Linear(c, vocab, hasBias: false);
        RegisterComponents();
        wte.weight = lm_head.weight; // tied, as nanoGPT and GPT-2
        using var _ = torch.no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (p.dim() == 2) nn.init.normal_(p, 0.0, name.EndsWith("c_proj.weight") ? 0.02 / Math.Sqrt(2 * layers) : 0.02);
            else if (name.EndsWith("bias")) nn.init.zeros_(p);
        }
    }

    public Tensor Loss(Tensor idx, Tensor targets)
    {
        var t = idx.shape[1];
        var x = wte.forward(idx) + wpe.forward(torch.arange(t, dtype: ScalarType.Int64));
        foreach (var block in h) x = block.forward(x);
        var logits = lm_head.forward(ln_f.forward(x));
        return F.cross_entropy(logits.view(-1, logits.shape[2]), targets.view(-1));
    }
}

// A GPT-2/3-family model with every layer's forward and backward written out, llm.c's shape: parameters and their
// gradients are offsets into one buffer each; activations (and their gradients) are sized for one (B, T) at build time.
// B batch, T sequence, C channels, L layers, NH heads, V vocabulary, Vp padded vocabulary.
using Wafer.Gpt.Layers;
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt;

public sealed class GptModel
{
    public GptConfig Config { get; }
    public ParameterLayout Layout { get; }
    public float[] Parameters { get; }
    public float[] Gradients { get; }
    public int Batch { get; }
    public int SeqLen { get; }

    private readonly Activations _a, _d;
    private int[] _inputs = [], _targets = [];

    /// <summary>Activations of one forward pass; the same class holds their gradients.</summary>
    private sealed class Activations(GptConfig c, int b, int t)
    {
        private static float[] Make(long n) => new float[n];
        public readonly float[] Encoded = Make((long)b * t * c.Channels);
        public readonly float[] Ln1 = Make((long)c.Layers * b * t * c.Channels), Ln1Mean = Make((long)c.Layers * b * t), Ln1Rstd = Make((long)c.Layers * b * t);
        public readonly float[] Qkv = Make((long)c.Layers * b * t * 3 * c.Channels);
        public readonly float[] Atty = Make((long)c.Layers * b * t * c.Channels);
        public readonly float[] Preatt = Make((long)c.Layers * b * c.Heads * t * t), Att = Make((long)c.Layers * b * c.Heads * t * t);
        public readonly float[] AttProj = Make((long)c.Layers * b * t * c.Channels), Residual2 = Make((long)c.Layers * b * t * c.Channels);
        public readonly float[] Ln2 = Make((long)c.Layers * b * t * c.Channels), Ln2Mean = Make((long)c.Layers * b * t), Ln2Rstd = Make((long)c.Layers * b * t);
        public readonly float[] Fch = Make((long)c.Layers * b * t * 4 * c.Channels), FchGelu = Make((long)c.Layers * b * t * 4 * c.Channels);
        public readonly float[] FcProj = Make((long)c.Layers * b * t * c.Channels), Residual3 = Make((long)c.Layers * b * t * c.Channels);
        public readonly float[] Lnf = Make((long)b * t * c.Channels), LnfMean = Make((long)b * t), LnfRstd = Make((long)b * t);
        public readonly float[] Logits = Make((long)b * t * c.PaddedVocabSize), Probs = Make((long)b * t * c.PaddedVocabSize), Losses = Make((long)b * t);

        public Span<float> Row(float[] buffer, int layer, long perLayer) => buffer.AsSpan((int)(layer * perLayer), (int)perLayer);
        /// <summary>Zeroes every buffer (gradients accumulate with +=).</summary>
        public void Clear()
        {
            foreach (var array in All()) Array.Clear(array);
        }

        private IEnumerable<float[]> All() =>
        [
            Encoded, Ln1, Ln1Mean, Ln1Rstd, Qkv, Atty, Preatt, Att, AttProj, Residual2, Ln2, Ln2Mean, Ln2Rstd,
            Fch, FchGelu, FcProj, Residual3, Lnf, LnfMean, LnfRstd, Logits, Probs, Losses,
        ];
    }

    /// <summary>Builds a model with GPT-2's initialisation: weights N(0, 0.02), residual projections scaled by 1/sqrt(2L),
    /// LayerNorm weights 1, biases 0; seeded, so the same seed gives the same model.</summary>
    public GptModel(GptConfig config, int batch, int seqLen, int seed)
    {
        var errors = config.Validate();
        if (errors.Count > 0) throw new ArgumentException($"invalid model config: {string.Join("; ", errors)}");
        if (batch < 1 || seqLen < 1 || seqLen > config.MaxSeqLen) throw new ArgumentException($"batch {batch} and sequence {seqLen} must be >= 1, sequence <= {config.MaxSeqLen}");
        Config = config;
        Layout = new ParameterLayout(config);
        Parameters = new float[Layout.Count];
        Gradients = new float[Layout.Count];
        Batch = batch;
        SeqLen = seqLen;
        _a = new Activations(config, batch, seqLen);
        _d = new Activations(config, batch, seqLen);
        Initialise(seed);
    }

    private Span<float> P(long offset, long count) => Parameters.AsSpan((int)offset, (int)count);
    private Span<float> G(long offset, long count) => Gradients.AsSpan((int)offset, (int)count);

    private void Initialise(int seed)
    {
        var rng = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        void Fill(long offset, long count, double std) { for (var i = offset; i < offset + count; i++) Parameters[i] = (float)(Normal() * std); }
        void Ones(long offset, long count) => P(offset, count).Fill(1f);
        long c = Config.Channels, l = Config.Layers;
        var residualStd = 0.02 / Math.Sqrt(2.0 * l);
        Fill(Layout.Wte, Config.PaddedVocabSize * c, 0.02);
        Fill(Layout.Wpe, Config.MaxSeqLen * c, 0.01);
        Ones(Layout.Ln1W, l * c);
        Fill(Layout.QkvW, l * 3 * c * c, 0.02);
        Fill(Layout.AttProjW, l * c * c, residualStd);
        Ones(Layout.Ln2W, l * c);
        Fill(Layout.FcW, l * 4 * c * c, 0.02);
        Fill(Layout.FcProjW, l * 4 * c * c, residualStd);
        Ones(Layout.LnfW, c);
    }

    /// <summary>Forward pass over inputs (B, T); with targets (B, T) returns the mean cross-entropy loss, else NaN.</summary>
    public float Forward(int[] inputs, int[]? targets)
    {
        int b = Batch, t = SeqLen, c = Config.Channels, nh = Config.Heads, vp = Config.PaddedVocabSize, v = Config.VocabSize;
        var bt = b * t;
        if (inputs.Length != bt) throw new ArgumentException($"inputs must hold B*T = {bt} tokens (has {inputs.Length})");
        foreach (var tok in inputs) if (tok < 0 || tok >= v) throw new ArgumentException($"token {tok} is outside the vocabulary of {v}");
        _inputs = inputs;
        var a = _a;
        long btc = (long)bt * c;
        Encoder.Forward(a.Encoded, inputs, P(Layout.Wte, (long)vp * c), P(Layout.Wpe, (long)Config.MaxSeqLen * c), b, t, c);
        for (var l = 0; l < Config.Layers; l++)
        {
            ReadOnlySpan<float> residual = l == 0 ? a.Encoded : a.Row(a.Residual3, l - 1, btc);
            var ln1 = a.Row(a.Ln1, l, btc);
            LayerNorm.Forward(ln1, a.Row(a.Ln1Mean, l, bt), a.Row(a.Ln1Rstd, l, bt), residual, P(Layout.Ln1W + l * c, c), P(Layout.Ln1B + l * c, c), bt, c);
            var qkv = a.Row(a.Qkv, l, 3 * btc);
            Linear.Forward(qkv, ln1, P(Layout.QkvW + (long)l * 3 * c * c, 3L * c * c), P(Layout.QkvB + l * 3L * c, 3 * c), bt, c, 3 * c);
            var atty = a.Row(a.Atty, l, btc);
            long attSize = (long)b * nh * t * t;
            CausalAttention.Forward(atty, a.Row(a.Preatt, l, attSize), a.Row(a.Att, l, attSize), qkv, b, t, c, nh);
            var attProj = a.Row(a.AttProj, l, btc);
            Linear.Forward(attProj, atty, P(Layout.AttProjW + (long)l * c * c, (long)c * c), P(Layout.AttProjB + l * c, c), bt, c, c);
            var residual2 = a.Row(a.Residual2, l, btc);
            for (var i = 0; i < btc; i++) residual2[i] = residual[i] + attProj[i];
            var ln2 = a.Row(a.Ln2, l, btc);
            LayerNorm.Forward(ln2, a.Row(a.Ln2Mean, l, bt), a.Row(a.Ln2Rstd, l, bt), residual2, P(Layout.Ln2W + l * c, c), P(Layout.Ln2B + l * c, c), bt, c);
            var fch = a.Row(a.Fch, l, 4 * btc);
            Linear.Forward(fch, ln2, P(Layout.FcW + (long)l * 4 * c * c, 4L * c * c), P(Layout.FcB + l * 4L * c, 4 * c), bt, c, 4 * c);
            var fchGelu = a.Row(a.FchGelu, l, 4 * btc);
            Gelu.Forward(fchGelu, fch);
            var fcProj = a.Row(a.FcProj, l, btc);
            Linear.Forward(fcProj, fchGelu, P(Layout.FcProjW + (long)l * 4 * c * c, 4L * c * c), P(Layout.FcProjB + l * c, c), bt, 4 * c, c);
            var residual3 = a.Row(a.Residual3, l, btc);
            for (var i = 0; i < btc; i++) residual3[i] = residual2[i] + fcProj[i];
        }
        var last = a.Row(a.Residual3, Config.Layers - 1, btc);
        LayerNorm.Forward(a.Lnf, a.LnfMean, a.LnfRstd, last, P(Layout.LnfW, c), P(Layout.LnfB, c), bt, c);
        Linear.Forward(a.Logits, a.Lnf, P(Layout.Wte, (long)vp * c), [], bt, c, vp);
        CrossEntropy.SoftmaxForward(a.Probs, a.Logits, bt, v, vp);
        if (targets is null) { _targets = []; return float.NaN; }
        if (targets.Length != bt) throw new ArgumentException($"targets must hold B*T = {bt} tokens (has {targets.Length})");
        foreach (var tok in targets) if (tok < 0 || tok >= v) throw new ArgumentException($"target {tok} is outside the vocabulary of {v}");
        _targets = targets;
        CrossEntropy.LossForward(a.Losses, a.Probs, targets, bt, vp);
        double sum = 0;
        for (var i = 0; i < bt; i++) sum += a.Losses[i];
        return (float)(sum / bt);
    }

    /// <summary>Probabilities over the real vocabulary for position (b, t) of the last forward pass.</summary>
    public ReadOnlySpan<float> Probabilities(int b, int t) => _a.Probs.AsSpan((b * SeqLen + t) * Config.PaddedVocabSize, Config.VocabSize);

    public void ZeroGradients() => Array.Clear(Gradients);

    /// <summary>Accumulates d(mean loss)/d(parameters) into Gradients for the last forward pass (which needs targets).</summary>
    public void Backward()
    {
        if (_targets.Length == 0) throw new InvalidOperationException("Backward needs a forward pass with targets");
        int b = Batch, t = SeqLen, c = Config.Channels, nh = Config.Heads, vp = Config.PaddedVocabSize, v = Config.VocabSize;
        var bt = b * t;
        long btc = (long)bt * c;
        var a = _a;
        var d = _d;
        d.Clear();
        Array.Fill(d.Losses, 1f / bt);
        CrossEntropy.Backward(d.Logits, d.Losses, a.Probs, _targets, bt, v, vp);
        Linear.BackwardInput(d.Lnf, d.Logits, P(Layout.Wte, (long)vp * c), bt, c, vp);
        Linear.BackwardWeight(G(Layout.Wte, (long)vp * c), [], d.Logits, a.Lnf, bt, c, vp);
        var lastL = Config.Layers - 1;
        LayerNorm.Backward(d.Row(d.Residual3, lastL, btc), G(Layout.LnfW, c), G(Layout.LnfB, c), d.Lnf,
            a.Row(a.Residual3, lastL, btc), P(Layout.LnfW, c), a.LnfMean, a.LnfRstd, bt, c);
        for (var l = Config.Layers - 1; l >= 0; l--)
        {
            ReadOnlySpan<float> residual = l == 0 ? a.Encoded : a.Row(a.Residual3, l - 1, btc);
            var dResidual = l == 0 ? d.Encoded.AsSpan() : d.Row(d.Residual3, l - 1, btc);
            var dResidual3 = d.Row(d.Residual3, l, btc);
            var dResidual2 = d.Row(d.Residual2, l, btc);
            var dFcProj = d.Row(d.FcProj, l, btc);
            for (var i = 0; i < btc; i++) { dResidual2[i] += dResidual3[i]; dFcProj[i] += dResidual3[i]; }
            var dFchGelu = d.Row(d.FchGelu, l, 4 * btc);
            Linear.BackwardInput(dFchGelu, dFcProj, P(Layout.FcProjW + (long)l * 4 * c * c, 4L * c * c), bt, 4 * c, c);
            Linear.BackwardWeight(G(Layout.FcProjW + (long)l * 4 * c * c, 4L * c * c), G(Layout.FcProjB + l * c, c), dFcProj, a.Row(a.FchGelu, l, 4 * btc), bt, 4 * c, c);
            var dFch = d.Row(d.Fch, l, 4 * btc);
            Gelu.Backward(dFch, a.Row(a.Fch, l, 4 * btc), dFchGelu);
            var dLn2 = d.Row(d.Ln2, l, btc);
            Linear.BackwardInput(dLn2, dFch, P(Layout.FcW + (long)l * 4 * c * c, 4L * c * c), bt, c, 4 * c);
            Linear.BackwardWeight(G(Layout.FcW + (long)l * 4 * c * c, 4L * c * c), G(Layout.FcB + l * 4L * c, 4 * c), dFch, a.Row(a.Ln2, l, btc), bt, c, 4 * c);
            LayerNorm.Backward(dResidual2, G(Layout.Ln2W + l * c, c), G(Layout.Ln2B + l * c, c), dLn2,
                a.Row(a.Residual2, l, btc), P(Layout.Ln2W + l * c, c), a.Row(a.Ln2Mean, l, bt), a.Row(a.Ln2Rstd, l, bt), bt, c);
            var dAttProj = d.Row(d.AttProj, l, btc);
            for (var i = 0; i < btc; i++) { dResidual[i] += dResidual2[i]; dAttProj[i] += dResidual2[i]; }
            var dAtty = d.Row(d.Atty, l, btc);
            Linear.BackwardInput(dAtty, dAttProj, P(Layout.AttProjW + (long)l * c * c, (long)c * c), bt, c, c);
            Linear.BackwardWeight(G(Layout.AttProjW + (long)l * c * c, (long)c * c), G(Layout.AttProjB + l * c, c), dAttProj, a.Row(a.Atty, l, btc), bt, c, c);
            var dQkv = d.Row(d.Qkv, l, 3 * btc);
            long attSize = (long)b * nh * t * t;
            CausalAttention.Backward(dQkv, d.Row(d.Preatt, l, attSize), d.Row(d.Att, l, attSize), dAtty, a.Row(a.Qkv, l, 3 * btc), a.Row(a.Att, l, attSize), b, t, c, nh);
            var dLn1 = d.Row(d.Ln1, l, btc);
            Linear.BackwardInput(dLn1, dQkv, P(Layout.QkvW + (long)l * 3 * c * c, 3L * c * c), bt, c, 3 * c);
            Linear.BackwardWeight(G(Layout.QkvW + (long)l * 3 * c * c, 3L * c * c), G(Layout.QkvB + l * 3L * c, 3 * c), dQkv, a.Row(a.Ln1, l, btc), bt, c, 3 * c);
            LayerNorm.Backward(dResidual, G(Layout.Ln1W + l * c, c), G(Layout.Ln1B + l * c, c), dLn1,
                residual, P(Layout.Ln1W + l * c, c), a.Row(a.Ln1Mean, l, bt), a.Row(a.Ln1Rstd, l, bt), bt, c);
        }
        Encoder.Backward(G(Layout.Wte, (long)vp * c), G(Layout.Wpe, (long)Config.MaxSeqLen * c), d.Encoded, _inputs, b, t, c);
    }
}

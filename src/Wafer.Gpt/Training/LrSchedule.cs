// nanoGPT's learning-rate schedule: linear warmup over the first W steps, cosine decay to MinLr at DecaySteps, then flat.
namespace Wafer.Gpt.Training;

public static class LrSchedule
{
    public static float At(int step, float maxLr, float minLr, int warmupSteps, int decaySteps)
    {
        if (step < warmupSteps) return maxLr * (step + 1) / (warmupSteps + 1);
        if (step > decaySteps) return minLr;
        var ratio = decaySteps == warmupSteps ? 1.0 : (double)(step - warmupSteps) / (decaySteps - warmupSteps);
        var coeff = 0.5 * (1.0 + Math.Cos(Math.PI * ratio));
        return (float)(minLr + coeff * (maxLr - minLr));
    }
}

// The fast subset of wafer-fuzz that `dotnet test` runs: cases spread over the full set's index range (seed 1, the
// full set's seed), each as its own `wafer` process, with the full set's limits. The full set (>= 10,000 cases) is a
// documented command: see docs/robustness.md.
using Wafer.Fuzz;

namespace Wafer.Cli.Tests;

/// <summary>The fixtures (model, wafer and system files, a data text, a trained checkpoint) every case mutates.</summary>
public sealed class FuzzFixtures
{
    public FuzzFixtures()
    {
        Work = CliRunner.TempDir();
        Fixtures.Write(Path.Combine(Work, "fixtures"));
    }

    public string Work { get; }
}

public class FuzzSubsetTests(FuzzFixtures fx) : IClassFixture<FuzzFixtures>
{
    private const int Seed = 1;
    private const int Cases = 120;
    private const int Stride = 83; // spreads the subset over cases 0 .. ~10,000 of the full set

    [Fact]
    public void EveryCaseOfTheSubsetIsACleanErrorOrASuccess()
    {
        var runner = new FuzzRunner(Path.Combine(AppContext.BaseDirectory, "wafer.dll"), Path.Combine(fx.Work, "fixtures"), fx.Work, TimeSpan.FromSeconds(120), 4L << 30);
        var results = new CaseResult[Cases];
        Parallel.For(0, Cases, new ParallelOptions { MaxDegreeOfParallelism = 2 }, k => results[k] = runner.Run(CaseGenerator.Make(Seed, k * Stride)));

        var failures = results.Where(r => r.Outcome == Outcome.Failure).Select(r => $"{r.Case} -> {r.Why}\n{r.Stderr}").ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} of {Cases} cases failed:\n{string.Join("\n", failures)}");
        // The subset reaches both sides: bad inputs refused and valid ones run (each kind of command at least once).
        Assert.True(results.Count(r => r.Outcome == Outcome.CleanError) >= Cases / 4);
        Assert.True(results.Count(r => r.Outcome == Outcome.Success) >= Cases / 10);
        foreach (var kind in new[] { "train", "sample", "estimate", "run", "config" })
            Assert.Contains(results, r => r.Case.Kind == kind);
    }

    [Fact]
    public void TheClassifierCallsAnythingButOneErrorLineWithExitCode2OrASuccessAFailure()
    {
        var c = new FuzzCase(0, "run", ["run", "x"], new Dictionary<string, byte[]>());
        var train = new FuzzCase(1, "train", ["train", "--json"], new Dictionary<string, byte[]>());
        Assert.Equal(Outcome.CleanError, FuzzRunner.Classify(c, 2, "wafer: unknown program 'x'\n", 0).Outcome);
        Assert.Equal(Outcome.Success, FuzzRunner.Classify(c, 0, "", 0).Outcome);
        Assert.Equal(Outcome.Failure, FuzzRunner.Classify(c, 2, "wafer: one\nwafer: two\n", 0).Outcome);
        Assert.Equal(Outcome.Failure, FuzzRunner.Classify(c, 2, "progress\nwafer: bad\n", 0).Outcome);
        Assert.Equal(Outcome.Failure, FuzzRunner.Classify(c, 1, "wafer: bad\n", 0).Outcome);
        Assert.Equal(Outcome.Failure, FuzzRunner.Classify(c, 3, "wafer: internal error\n", 0).Outcome);
        Assert.Equal(Outcome.Failure, FuzzRunner.Classify(c, 134, "Unhandled exception. System.NullReferenceException\n", 0).Outcome);
        Assert.Equal(Outcome.Failure, FuzzRunner.Classify(c, 0, "Unhandled exception. System.Exception\n", 0).Outcome);
        // train --json prints progress on stderr before its one error line.
        Assert.Equal(Outcome.CleanError, FuzzRunner.Classify(train, 2, "step 1/2 loss 4.1\nwafer: training diverged at step 2\n", 0).Outcome);
        // So does a long simulation, its own progress lines only.
        Assert.Equal(Outcome.CleanError, FuzzRunner.Classify(c, 2, "wafer run x: simulated cycle 9 after 5 s on this host\nwafer: deadlock\n", 0).Outcome);
    }

    [Fact]
    public void ACaseIsTheSameOnEveryRun()
    {
        for (var i = 0; i < 200; i += 7)
        {
            var a = CaseGenerator.Make(Seed, i);
            var b = CaseGenerator.Make(Seed, i);
            Assert.Equal(a.ToString(), b.ToString());
            Assert.Equal(a.Files.Keys.Order(), b.Files.Keys.Order());
            foreach (var (name, bytes) in a.Files) Assert.Equal(bytes, b.Files[name]);
        }
    }
}

using System.Diagnostics;
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Tests;

public class HelpBoardTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>Spins until condition() or the patience runs out; returns the condition.</summary>
    private static bool SpinUntil(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Patience) return false;
            Thread.SpinWait(50);
        }
        return true;
    }

    /// <summary>Party 0 runs `parts` parts of body on the board while party 1 waits and helps until party 0 is done;
    /// part 0 holds on until party 1 has run a part, so both take part. Returns the helper's thread and the owner's
    /// exception, if any.</summary>
    private static (int HelperThread, Exception? OwnerError) RunWithHelper(int parts, Action<int> body)
    {
        var board = new HelpBoard();
        var ownerDone = 0;
        var helperThread = 0;
        Exception? ownerError = null;
        var helper = new Thread(() =>
        {
            using var attached = board.Attach(1);
            helperThread = Environment.CurrentManagedThreadId;
            HelpBoard.SetWaiting(true);
            while (Volatile.Read(ref ownerDone) == 0) HelpBoard.TryHelp();
            HelpBoard.SetWaiting(false);
        });
        helper.Start();
        SpinUntil(() => Volatile.Read(ref helperThread) != 0);
        using (board.Attach(0))
        {
            try { board.Run(parts, body); }
            catch (Exception e) { ownerError = e; }
        }
        Volatile.Write(ref ownerDone, 1);
        helper.Join();
        return (helperThread, ownerError);
    }

    [Fact]
    public void AWaitingParty_RunsPartsOfTheOthersJob_EachPartExactlyOnce()
    {
        const int parts = 40;
        var runs = new int[parts];
        var thread = new int[parts];
        var (helper, error) = RunWithHelper(parts, p =>
        {
            Interlocked.Increment(ref runs[p]);
            thread[p] = Environment.CurrentManagedThreadId;
            if (p == 0) SpinUntil(() => thread.Skip(1).Any(t => t != 0 && t != thread[0]));
        });
        Assert.Null(error);
        Assert.All(runs, r => Assert.Equal(1, r));
        Assert.Contains(thread, t => t == helper);
        Assert.Contains(thread, t => t != helper);
    }

    [Fact]
    public void AFailingPartOnTheHelper_IsRethrownByTheOwner_AfterEveryPartHasRun()
    {
        const int parts = 12;
        var helperId = 0;
        var runs = new int[parts];
        var ownerId = Environment.CurrentManagedThreadId;
        var (_, error) = RunWithHelper(parts, p =>
        {
            Interlocked.Increment(ref runs[p]);
            if (p == 0)
            {
                SpinUntil(() => Volatile.Read(ref helperId) != 0);
                return;
            }
            if (Environment.CurrentManagedThreadId != ownerId)
            {
                Volatile.Write(ref helperId, Environment.CurrentManagedThreadId);
                throw new InvalidOperationException($"part {p} failed on the helper");
            }
        });
        Assert.IsType<InvalidOperationException>(error); // unwrapped, as if the owner had run the part itself
        Assert.All(runs, r => Assert.Equal(1, r));
    }

    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    [Fact]
    public void AProductSplitWithAWaitingShard_IsBitIdenticalToTheOneThreadProduct()
    {
        // Inside a pool part (a batch shard), a product runs on one thread unless the other shard waits; then it is split
        // and the waiting shard takes parts. Both layouts of the executor's products: row split (forward) and a
        // transposed A split by column panels (a weight gradient of few rows).
        foreach (var (m, n, k, aRow, aCol) in new[] { (384, 384, 128, 128, 1), (128, 512, 384, 1, 128) })
        {
            var a = Random(m * k, 1);
            var b = Random(k * n, 2);
            var expected = new float[m * n];
            Gemm.Multiply(m, n, k, a, aRow, aCol, b, n, 1, expected, n, accumulate: false, threads: 1);
            var board = new HelpBoard();
            var waiting = 0;
            var done = 0;
            var helped = 0;
            var mismatches = 0;
            WorkerPool.Run(2, 2, shard =>
            {
                using var attached = board.Attach(shard);
                if (shard == 1)
                {
                    HelpBoard.SetWaiting(true);
                    Volatile.Write(ref waiting, 1);
                    while (Volatile.Read(ref done) == 0)
                        if (HelpBoard.TryHelp()) helped++;
                    HelpBoard.SetWaiting(false);
                    return;
                }
                SpinUntil(() => Volatile.Read(ref waiting) != 0);
                // Repeated until the helper has taken a part (it nearly always does at once).
                for (var attempt = 0; attempt < 50 && Volatile.Read(ref helped) == 0; attempt++)
                {
                    var c = new float[m * n];
                    Gemm.Multiply(m, n, k, a, aRow, aCol, b, n, 1, c, n, accumulate: false, 2);
                    if (!c.AsSpan().SequenceEqual(expected)) mismatches++;
                }
                Volatile.Write(ref done, 1);
            });
            Assert.Equal(0, mismatches);
            Assert.True(helped > 0, $"{m} x {n} x {k}: the waiting shard never took a part");
        }
    }
}

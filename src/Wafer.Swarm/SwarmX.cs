// `wafer train --swarmx` under mpiexec: one MemoryX (rank 0) and N systems (ranks 1..N), data parallel (docs/swarmx.md).
// Rank 0 runs the whole trainer (data, schedule, MemoryX, evaluation, checkpoints, sample, outputs) with its passes
// sent to the systems; the systems build the executor and run what they are sent. Before any work, every system says
// who it is and with which arguments and binary; a mismatch, or a job that cannot be split, ends the launch with one
// line from rank 0 and exit code 2 on every rank. A rank that goes silent ends the job with exit code 3 (the last
// checkpoint is whole: checkpoints are written atomically, between waits).
using System.Text.Json;
using Wafer.Core;
using Wafer.Gpt.MemoryX;
using Wafer.Gpt.Model;
using Wafer.Gpt.Training;

namespace Wafer.Swarm;

/// <summary>SwarmX's settings: the tree's fan-out, and how long a silent rank is waited for.</summary>
public sealed record SwarmOptions
{
    public int FanOut { get; init; } = 2;
    public double TimeoutSeconds { get; init; } = 30;

    public IReadOnlyList<string> Validate()
    {
        var e = new List<string>();
        if (FanOut < 1) e.Add($"--swarmx-fan-out must be >= 1 (is {FanOut})");
        if (!(TimeoutSeconds >= 1) || double.IsInfinity(TimeoutSeconds)) e.Add($"--swarmx-timeout must be at least 1 second (is {TimeoutSeconds})");
        return e;
    }
}

/// <summary>What this rank did: rank 0's training result, or a system's exit code (0, or 2 when the launch was refused).</summary>
public sealed record SwarmOutcome(TrainResult? Result, int SystemExitCode);

public static class SwarmX
{
    public const int ExitLostRank = 3;

    private sealed record Hello(string[] Args, string Binary, string Host, int Pid);
    private sealed record Job(bool Go, string? Model, string? Reason);

    public static SwarmOutcome Train(TrainOptions o, SwarmOptions so, TextWriter log, TextWriter err)
    {
        var errors = so.Validate();
        if (errors.Count > 0) throw new WaferInputException(string.Join("; ", errors));
        if (RankProcess.IsLauncher) return new SwarmOutcome(null, RankProcess.RunChild());
        var (rank, size) = Mpi.Init();
        if (size < 2)
        {
            Mpi.Finalize();
            throw new WaferInputException($"--swarmx runs MemoryX as rank 0 and N >= 1 systems as ranks 1..N: launch it with mpiexec -n N+1 (this job has {size} process{(size == 1 ? "" : "es")})");
        }
        var tree = new SwarmTree(size - 1, Math.Min(so.FanOut, size - 1));
        var names = new string[size];
        for (var r = 0; r < size; r++) names[r] = r == 0 ? "MemoryX (rank 0)" : $"system rank {r}";
        var ending = 0;
        void EndJob(SwarmFailure f)
        {
            // Once, from whichever thread finds the failure first: the report, then the end of every rank.
            if (Interlocked.Exchange(ref ending, 1) == 1) Thread.Sleep(Timeout.Infinite);
            err.WriteLine($"swarmx: {(rank == 0 ? "" : $"system rank {rank}: ")}{f.Message}; ending the job{(rank == 0 && o.WriteCheckpoints ? $" (the last checkpoint in {o.OutputDirectory} is whole: --resume it, on any number of systems)" : "")}");
            err.Flush();
            log.Flush();
            // MPI_Abort ends every rank. It can block behind an MPI call that the dead peer has wedged; then this rank
            // exits on its own after two seconds and the other ranks find it silent and end too.
            new Thread(() => Mpi.Abort(Mpi.CommWorld, ExitLostRank)) { IsBackground = true }.Start();
            Thread.Sleep(2000);
            Environment.Exit(ExitLostRank);
        }
        using var heartbeat = new Heartbeat(size, rank == 0 ? Enumerable.Range(1, size - 1).ToArray() : [0], so.TimeoutSeconds, r => names[r], EndJob);
        var wire = new Wire(heartbeat);
        try
        {
            return rank == 0 ? new SwarmOutcome(MemoryX(o, tree, wire, heartbeat, names, log), 0) : new SwarmOutcome(null, System(o, tree, wire, rank));
        }
        catch (SwarmFailure f)
        {
            EndJob(f);
            throw; // not reached
        }
        catch (Exception e) when (rank != 0)
        {
            err.WriteLine($"swarmx: system rank {rank} failed: {e.Message}");
            err.Flush();
            Mpi.Abort(Mpi.CommWorld, 1);
            throw;
        }
        finally
        {
            heartbeat.Dispose();
            Mpi.Finalize();
        }
    }

    /// <summary>Rank 0: checks the systems' hellos, then trains with the passes on them.</summary>
    private static TrainResult MemoryX(TrainOptions o, SwarmTree tree, Wire wire, Heartbeat heartbeat, string[] names, TextWriter log)
    {
        var mine = Describe(o);
        var released = false;
        SwarmRunner? runner = null;
        try
        {
            string? refusal = null;
            for (var r = 1; r <= tree.Systems; r++)
            {
                var hello = JsonSerializer.Deserialize<Hello>(wire.ReceiveBlob(r, Wire.TagHello))!;
                names[r] = $"system rank {r} (pid {hello.Pid} on {hello.Host})";
                if (hello.Host == Environment.MachineName) heartbeat.WatchProcess(r, hello.Pid);
                log.WriteLine($"swarmx: {names[r]} joined");
                refusal ??= Mismatch(mine, hello, r);
            }
            if (refusal is null && o.MicroBatches % tree.Systems != 0)
                refusal = $"--micro-batches {o.MicroBatches} (the global batch, in micro-batches of --batch {o.Batch}) does not divide among {tree.Systems} systems: give a multiple of {tree.Systems}";
            if (refusal is not null) throw new WaferInputException($"swarmx: {refusal}");
            return Trainer.Run(o, log, (store, cfg) =>
            {
                released = true;
                var job = JsonSerializer.SerializeToUtf8Bytes(new Job(true, GptConfigJson.Serialize(cfg), null));
                for (var r = 1; r <= tree.Systems; r++) wire.Send<byte>(r, Wire.TagJob, job);
                long device = 0;
                Span<long> ready = stackalloc long[1];
                for (var r = 1; r <= tree.Systems; r++)
                {
                    wire.Receive(r, Wire.TagJob, ready);
                    device = Math.Max(device, ready[0]);
                }
                runner = new SwarmRunner(wire, tree, store, device, cycle: o.Fidelity == Fidelity.Cycle);
                log.WriteLine($"swarmx: MemoryX on rank 0, {tree.Systems} system{(tree.Systems == 1 ? "" : "s")} in a tree of fan-out {tree.FanOut} (depth {tree.Depth}); {o.MicroBatches / tree.Systems} round{(o.MicroBatches / tree.Systems == 1 ? "" : "s")} of {tree.Systems} micro-batches a step; {Mpi.LibraryVersion()}");
                return runner;
            });
        }
        catch (Exception e) when (e is not SwarmFailure)
        {
            // The systems wait for the job or the next command: release them before this rank reports.
            if (!released)
            {
                var stop = JsonSerializer.SerializeToUtf8Bytes(new Job(false, null, e.Message));
                for (var r = 1; r <= tree.Systems; r++) wire.Send<byte>(r, Wire.TagJob, stop);
            }
            throw;
        }
        finally
        {
            if (runner is not null)
            {
                runner.End();
                Report(runner, tree, o, log);
            }
        }
    }

    /// <summary>The traffic per training step and per evaluation, in the log and in OUT/swarmx.json (BENCHMARKS.md).</summary>
    private static void Report(SwarmRunner runner, SwarmTree tree, TrainOptions o, TextWriter log)
    {
        object Per(SwarmRunner.Traffic t)
        {
            double calls = Math.Max(1, t.Calls);
            return new
            {
                calls = t.Calls,
                roundsPerCall = t.Rounds / calls,
                bytesSentByAllRanks = t.Bytes / calls,
                messagesSentByAllRanks = t.Messages / calls,
                memoryXWeightBytesOut = t.MemoryXWeightBytesOut / calls,
                memoryXGradientBytesIn = t.MemoryXGradientBytesIn / calls,
                memoryXGradientMessagesIn = t.MemoryXGradientMessagesIn / calls,
                systemPassSeconds = t.PassSeconds / calls / tree.Systems,
                systemFetchSeconds = t.FetchSeconds / calls / tree.Systems,
                systemGradientSendSeconds = t.SendSeconds / calls / tree.Systems,
            };
        }
        var train = runner.Training;
        if (train.Calls > 0)
        {
            double calls = train.Calls;
            log.WriteLine(global::System.FormattableString.Invariant(
                $"swarmx: per step {train.Bytes / calls / 1e6:N2} MB in {train.Messages / calls:N0} messages sent by all ranks; MemoryX sent {train.MemoryXWeightBytesOut / calls / 1e6:N2} MB of weights and took {train.MemoryXGradientBytesIn / calls / 1e6:N2} MB of gradients; a system's passes took {train.PassSeconds / calls / tree.Systems * 1e3:F1} ms a step, of which {train.SendSeconds / calls / tree.Systems * 1e3:F1} ms sending gradients (exposed) and {train.FetchSeconds / calls / tree.Systems * 1e3:F1} ms receiving weights (overlapped with compute where prefetched)"));
        }
        var json = JsonSerializer.Serialize(new
        {
            systems = tree.Systems,
            fanOut = tree.FanOut,
            depth = tree.Depth,
            microBatches = o.MicroBatches,
            batch = o.Batch,
            seqLen = o.SeqLen,
            perTrainingStep = Per(train),
            perEvaluation = Per(runner.Evaluation),
            mpi = Mpi.LibraryVersion(),
        }, new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.WriteText(Path.Combine(o.OutputDirectory, "swarmx.json"), json);
    }

    /// <summary>A system: hello, then the job, then the commands.</summary>
    private static int System(TrainOptions o, SwarmTree tree, Wire wire, int rank)
    {
        wire.Send<byte>(0, Wire.TagHello, JsonSerializer.SerializeToUtf8Bytes(Describe(o)));
        var job = JsonSerializer.Deserialize<Job>(wire.ReceiveBlob(0, Wire.TagJob))!;
        if (!job.Go) return 2; // rank 0 says why
        var cfg = GptConfigJson.Parse(job.Model!, "the job from rank 0");
        var layout = new ParameterLayout(cfg);
        var link = new SystemLink(wire, tree, rank, layout);
        var cycle = o.Cycle with { Fp16 = o.Precision == StreamPrecision.Fp16 };
        if (o.Fidelity == Fidelity.Cycle) CycleExecutor.Admit(cfg, o.Batch, o.SeqLen, cycle);
        IGptExecutor executor = o.Fidelity == Fidelity.Cycle
            ? new CycleExecutor(link, o.Batch, o.SeqLen, cycle)
            : new GptExecutor(link, o.Batch, o.SeqLen, o.Precision, new HostSchedule { Threads = o.Threads });
        wire.Send<long>(0, Wire.TagJob, [executor.DeviceBytes + SystemLink.Bytes(layout, tree.Children(rank).Length > 0)]);
        SystemWorker.Run(wire, link, executor, rank);
        return 0;
    }

    private static Hello Describe(TrainOptions o)
    {
        // The binary: the version ids of the assemblies that compute (a rebuild from other sources changes them).
        var binary = string.Join(",", new[] { typeof(SwarmX), typeof(Trainer), typeof(ParameterLayout), typeof(Wafer.Fabric.Wavelet) }
            .Select(t => t.Assembly.ManifestModule.ModuleVersionId.ToString("N")[..12])
            .Prepend(global::System.Reflection.Assembly.GetEntryAssembly()?.ManifestModule.ModuleVersionId.ToString("N")[..12] ?? "none"));
        return new Hello(Environment.GetCommandLineArgs().Skip(1).ToArray(), binary, Environment.MachineName, Environment.ProcessId);
    }

    /// <summary>Why system r's launch does not match rank 0's, or null.</summary>
    private static string? Mismatch(Hello mine, Hello theirs, int r)
    {
        if (theirs.Binary != mine.Binary) return $"system rank {r} runs another build of wafer than rank 0 (assembly ids {theirs.Binary} against {mine.Binary}): install the same build on every host";
        if (theirs.Args.SequenceEqual(mine.Args)) return null;
        var i = 0;
        while (i < Math.Min(theirs.Args.Length, mine.Args.Length) && theirs.Args[i] == mine.Args[i]) i++;
        string At(string[] a) => i < a.Length ? $"'{a[i]}'" : "nothing";
        return $"system rank {r} was started with other arguments than rank 0: argument {i + 1} is {At(theirs.Args)} there, {At(mine.Args)} on rank 0; every rank must run the same command";
    }
}

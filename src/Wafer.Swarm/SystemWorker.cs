// A system (rank 1..N): it builds the trainer's executor, fast or cycle, on SwarmX's link instead of a WeightStore,
// then runs the batches rank 0 sends, one command at a time, until the end command. It keeps no weights between
// passes (each arrives down the tree) and no optimizer state (that is MemoryX's).
using Wafer.Gpt.Model;

namespace Wafer.Swarm;

internal static class SystemWorker
{
    public static void Run(Wire wire, SystemLink link, IGptExecutor executor, int rank)
    {
        var result = new long[9];
        while (true)
        {
            var command = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(wire.ReceiveBlob(0, Wire.TagCommand)).ToArray();
            if (command[0] == SwarmRunner.CommandEnd) return;
            var t = command[3];
            var inputs = command.AsSpan(4, t).ToArray();
            var targets = command.AsSpan(4 + t, t).ToArray();
            long start = System.Diagnostics.Stopwatch.GetTimestamp(), fetch = link.FetchTicks, send = link.SendTicks;
            var loss = command[0] == SwarmRunner.CommandTrain
                ? executor.TrainPass(inputs, targets, lastPassOfStep: command[1] == 1)
                : executor.Forward(inputs, targets);
            var fabric = command[0] == SwarmRunner.CommandTrain ? executor.Fabric : null;
            result[0] = command[2];
            result[1] = BitConverter.SingleToInt32Bits(loss);
            result[2] = fabric?.LastPassCycles ?? 0;
            result[3] = fabric?.LastPassModelCycles ?? 0;
            // The counts include this message (72 bytes, one message).
            result[4] = wire.BytesSent + 72;
            result[5] = wire.MessagesSent + 1;
            // This pass's time, and of it the link's: weights in (mostly overlapped) and gradients out (exposed).
            result[6] = System.Diagnostics.Stopwatch.GetTimestamp() - start;
            result[7] = link.FetchTicks - fetch;
            result[8] = link.SendTicks - send;
            wire.Send<long>(0, Wire.TagResult, result);
            // At cycle fidelity system 1 also sends its wafer's account: rank 0 reports it as one process reports its own.
            if (rank == 1 && executor.Fabric is { } account)
                wire.Send<byte>(0, Wire.TagResult, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(account, SwarmRunner.AccountJson));
        }
    }
}

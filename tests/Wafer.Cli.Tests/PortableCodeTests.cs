// Every x86 intrinsic has a portable fallback: with the runtime's hardware intrinsics turned off
// (DOTNET_EnableHWIntrinsic=0: no SSE, AVX, FMA or AVX-512; Vector128/256/512 run as software) the trainer runs and
// writes the same bytes. Runs `wafer train` as a process, since the switch is read once at process start.
using System.Diagnostics;

namespace Wafer.Cli.Tests;

public class PortableCodeTests
{
    [Fact]
    public void TrainingWithoutHardwareIntrinsics_WritesTheSameCheckpoint()
    {
        var dir = CliRunner.TempDir();
        var model = Path.Combine(dir, "m.json");
        // Two heads of 16 and a 64-wide MLP: every kernel (Gemm's tiles and edges, attention, GELU, LayerNorm, AdamW)
        // runs on vectors and on their remainders.
        File.WriteAllText(model, """{"name": "portable", "layers": 2, "channels": 32, "heads": 2, "ffnChannels": 72, "maxSeqLen": 16}""");
        string Train(string name, bool intrinsics)
        {
            var outDir = Path.Combine(dir, name);
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "wafer.dll"), "train", "--model", model, "--steps", "3", "--batch", "3", "--seq", "13",
                         "--eval-interval", "3", "--eval-batches", "1", "--sample-tokens", "0", "--threads", "2", "--out", outDir })
                psi.ArgumentList.Add(a);
            if (!intrinsics) psi.Environment["DOTNET_EnableHWIntrinsic"] = "0";
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            _ = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"train ({(intrinsics ? "intrinsics on" : "DOTNET_EnableHWIntrinsic=0")}) exited {p.ExitCode}: {err.Result}");
            return Path.Combine(outDir, "checkpoint.safetensors");
        }

        var hardware = File.ReadAllBytes(Train("hw", intrinsics: true));
        var portable = File.ReadAllBytes(Train("portable", intrinsics: false));
        Assert.Equal(hardware, portable);
    }
}

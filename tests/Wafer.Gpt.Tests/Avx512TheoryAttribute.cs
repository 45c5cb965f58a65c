// A theory that compares the 512-bit kernel with the 256-bit one: skipped, with the reason in the test output, on a CPU
// without AVX-512 (the kernel's intrinsics throw PlatformNotSupportedException there).
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Tests;

public sealed class Avx512TheoryAttribute : TheoryAttribute
{
    public Avx512TheoryAttribute()
    {
        if (!Gemm.WideRuns) Skip = "this CPU lacks AVX-512F: the 512-bit kernel cannot run here (the 256-bit paths are tested by every other test)";
    }
}

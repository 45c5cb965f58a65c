// Closed-form cycles of stencil25 (placeholder until measured; see docs/kernels.md).
using Wafer.Fabric.Config;

namespace Wafer.Kernels.Stencil;

public static class StencilModel
{
    public static long? Cycles(WaferConfig c, int w, int h, int nz, int steps) => null;
}

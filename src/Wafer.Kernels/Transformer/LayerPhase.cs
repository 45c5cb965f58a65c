// One step of the layer program (a LayerNorm, a product, attention, ...): the host prepares it (attaches the MemoryX
// ports of the edge row) and launches it; every PE of the region then runs its Start on task LayerProgram.PhaseTask.
// Phases are separated by the fabric going quiet, so each one's cycles are measured on their own (docs/transformer.md).
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Transformer;

/// <summary>Contract: Prepare runs on the host before the launch (ports, nothing else); Start runs on each PE when the phase
/// starts (y == 0: the edge PE of column x) and issues that PE's ops; it must read and write SRAM only through ctx, keep
/// per-PE state in SRAM (the arena's counters), and treat the phase object as read-only (PEs run on several threads).</summary>
public abstract class LayerPhase(string name)
{
    public string Name { get; } = name;
    public virtual void Prepare(Simulator sim) { }
    public abstract void Start(TaskContext ctx);
}

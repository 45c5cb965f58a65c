// A test that launches MPI processes: skipped, saying why, where MPICH's mpiexec is not installed (.ci/run and the
// README's set-up install it: apt-get install mpich).
namespace Wafer.Swarm.Tests;

public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        if (Launcher.MpiExec is null) Skip = "mpiexec is not on PATH: install MPICH (apt-get install mpich) to run the SwarmX tests";
    }
}

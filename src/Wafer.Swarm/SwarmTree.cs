// SwarmX's shape: MemoryX (rank 0) at the root, the N systems (ranks 1..N) below it in a tree of the given fan-out,
// numbered breadth first: rank r's children are F r + 1 .. F r + F. Weights flow down it (each node passes a segment on
// to its children as it receives it), gradients up it (each node adds its children's partial sums to its own term).
// Fan-out 1 is a chain through the systems; fan-out N is a star on MemoryX.
namespace Wafer.Swarm;

public sealed record SwarmTree(int Systems, int FanOut)
{
    public int Parent(int rank) => rank == 0 ? throw new ArgumentOutOfRangeException(nameof(rank), "rank 0 is the root") : (rank - 1) / FanOut;

    public int[] Children(int rank) =>
        Enumerable.Range(FanOut * rank + 1, FanOut).Where(c => c <= Systems).ToArray();

    /// <summary>Levels below the root: the hops a weight takes to the deepest system.</summary>
    public int Depth
    {
        get
        {
            var depth = 0;
            for (var r = Systems; r > 0; r = Parent(r)) depth++;
            return depth;
        }
    }
}

namespace Wafer.Swarm.Tests;

public sealed class SwarmTreeTests
{
    [Fact]
    public void EverySystemHasOneParent_AndTheTreeCoversThemAll()
    {
        foreach (var (n, f) in new[] { (1, 1), (3, 1), (3, 2), (7, 2), (10, 3), (5, 8) })
        {
            var tree = new SwarmTree(n, f);
            var reached = new List<int>();
            var frontier = new Queue<int>([0]);
            while (frontier.Count > 0)
            {
                var r = frontier.Dequeue();
                var children = tree.Children(r);
                Assert.True(children.Length <= f);
                foreach (var c in children)
                {
                    Assert.Equal(r, tree.Parent(c));
                    reached.Add(c);
                    frontier.Enqueue(c);
                }
            }
            Assert.Equal(Enumerable.Range(1, n), reached.Order());
        }
        Assert.Equal(3, new SwarmTree(3, 1).Depth);   // a chain
        Assert.Equal(1, new SwarmTree(3, 4).Depth);   // a star
        Assert.Equal(3, new SwarmTree(7, 2).Depth);   // a binary tree
    }
}

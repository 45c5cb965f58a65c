using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Fabric.Tests;

public class TaskTests
{
    /// <summary>Each task appends its ID to "log" (count in log[0]).</summary>
    private static Action<TaskContext> Log(Action<TaskContext>? then = null) => ctx =>
    {
        var log = ctx.Address("log");
        var n = ctx.LoadI32(log);
        ctx.StoreI32(log + 4 * (n + 1), ctx.TaskId);
        ctx.StoreI32(log, n + 1);
        then?.Invoke(ctx);
    };

    private static int[] Order(Simulator sim)
    {
        var raw = OnePe.ReadInts(sim, "log", 8);
        return raw.Skip(1).Take(raw[0]).ToArray();
    }

    [Fact]
    public void Activate_RunsActivatedTasks_HighPriorityFirst_ThenLowestId()
    {
        var code = new PeCode("t").Symbol("log", 32)
            .LocalTask(10, Log(ctx => { ctx.Activate(13); ctx.Activate(11); ctx.Activate(12); }))
            .LocalTask(11, Log()).LocalTask(12, Log(), highPriority: true).LocalTask(13, Log());
        var (sim, _) = OnePe.Run(code);
        Assert.Equal([10, 12, 11, 13], Order(sim));
    }

    [Fact]
    public void Block_KeepsActivatedTaskFromRunning_UntilUnblocked()
    {
        var code = new PeCode("t").Symbol("log", 32).BlockAtStart(11)
            .LocalTask(10, Log(ctx => { ctx.Activate(11); ctx.Activate(12); }))
            .LocalTask(11, Log())
            .LocalTask(12, Log(ctx => ctx.Unblock(11)));
        var (sim, _) = OnePe.Run(code);
        Assert.Equal([10, 12, 11], Order(sim));
    }

    [Fact]
    public void Block_ActivatedTaskNeverUnblocked_IsReportedStuck()
    {
        var code = new PeCode("t").Symbol("log", 32).BlockAtStart(11)
            .LocalTask(10, Log(ctx => ctx.Activate(11))).LocalTask(11, Log());
        var e = Assert.Throws<DeadlockException>(() => OnePe.Run(code));
        Assert.Contains("task 11 is activated but blocked", e.Message);
    }

    [Fact]
    public void Task_RunsToCompletion_NextTaskStartsAfterItsOps()
    {
        // Task 10 issues a 20-cycle scalar block and activates 11; 11 starts only after 10's ops are done.
        var code = new PeCode("t").Symbol("log", 32)
            .LocalTask(10, Log(ctx => { ctx.Activate(11); ctx.Scalar(20); }))
            .LocalTask(11, Log());
        var (_, cycles) = OnePe.Run(code);
        // 10: start 2 + activate 1 + scalar 20; 11: start 2.
        Assert.Equal(2 + 1 + 20 + 2, cycles);
    }

    [Fact]
    public void AsyncOp_ActivatesTaskOnCompletion_WhileMainThreadRunsOn()
    {
        const int n = 8;
        var layout = new FabricLayout(2, 1);
        layout.Route(0, 0, 3, Ports.Ramp, Ports.East);
        layout.Route(1, 0, 3, Ports.West, Ports.Ramp);
        layout.SetCode(0, 0, new PeCode("src").SymbolF32("v", Enumerable.Range(1, n).Select(i => (float)i).ToArray()).OutputQueue(2, 3)
            .LocalTask(10, ctx => ctx.Fmovs(Dsd.FabOut(3, n, 2), ctx.Mem("v"))));
        layout.SetCode(1, 0, new PeCode("dst").SymbolF32("v", n).Symbol("log", 32).InputQueue(4, 3)
            .LocalTask(10, Log(ctx => { ctx.Fmovs(ctx.Mem("v"), Dsd.FabIn(3, n, 4), Completion.Activate(14)); ctx.Activate(12); }))
            .LocalTask(12, Log())
            .LocalTask(14, Log()));
        var sim = new Simulator(TestPrograms.Wafer(2, 1), layout, new SimulatorOptions { Threads = 1 });
        sim.Launch(10);
        sim.Run();
        Assert.Equal(Enumerable.Range(1, n).Select(i => (float)i), sim.Host.MemcpyD2H("v", 1, 0, 1, 1, n));
        var raw = sim.Host.MemcpyD2H("log", 1, 0, 1, 1, 8).Select(BitConverter.SingleToInt32Bits).ToArray();
        Assert.Equal([10, 12, 14], raw.Skip(1).Take(raw[0]).ToArray()); // 12 ran while the microthread waited for data
    }

    [Fact]
    public void DataTask_RunsOncePerWavelet_WithItsPayload()
    {
        const int n = 5;
        var layout = new FabricLayout(2, 1);
        layout.Route(0, 0, 7, Ports.Ramp, Ports.East);
        layout.Route(1, 0, 7, Ports.West, Ports.Ramp);
        layout.SetCode(0, 0, new PeCode("src").SymbolF32("v", [10f, 20f, 30f, 40f, 50f]).OutputQueue(2, 7)
            .LocalTask(10, ctx => ctx.Fmovs(Dsd.FabOut(7, n, 2), ctx.Mem("v"))));
        layout.SetCode(1, 0, new PeCode("sum").SymbolF32("acc", 2).InputQueue(0, 7)
            .DataTask(7, ctx =>
            {
                var acc = ctx.Address("acc");
                ctx.StoreF32(acc, ctx.LoadF32(acc) + ctx.ArgF32);
                ctx.StoreF32(acc + 4, ctx.LoadF32(acc + 4) + 1);
            }));
        var sim = new Simulator(TestPrograms.Wafer(2, 1), layout, new SimulatorOptions { Threads = 1 });
        sim.Launch(10, 0, 0, 1, 1);
        sim.Run();
        Assert.Equal([150f, 5f], sim.Host.MemcpyD2H("acc", 1, 0, 1, 1, 2));
    }

    [Fact]
    public void Continuation_SeesItsOwnTasksArgument_EvenWhenOtherPesRanTasksMeanwhile()
    {
        // Two rows, each a source and a receiver whose data task stores its argument from a continuation that runs
        // after a 30-cycle op; row 1 starts 10 cycles later, so the other row's tasks start in between.
        var layout = new FabricLayout(2, 2);
        for (var y = 0; y < 2; y++)
        {
            layout.Route(0, y, 1, Ports.Ramp, Ports.East);
            layout.Route(1, y, 1, Ports.West, Ports.Ramp);
            var delay = 1 + 10 * y;
            layout.SetCode(0, y, new PeCode($"src{y}").SymbolF32("v", [7f + y * 100, 9f + y * 100]).OutputQueue(2, 1)
                .LocalTask(10, c => { c.Scalar(delay); c.Fmovs(Dsd.FabOut(1, 2, 2), c.Mem("v")); }));
        }
        var sink = new PeCode("sink").SymbolF32("got", 2).Symbol("i", 4).InputQueue(0, 1).Fifo(0, 8).DataTask(1, c =>
        {
            c.Scalar(30);
            c.Fmovs(Dsd.Fifo(0, 1), 1f); // a FIFO op streams, so the continuation runs in a later step
            c.Then(k =>
            {
                var i = k.LoadI32(k.Address("i"));
                k.StoreF32(k.Address("got") + 4 * i, k.ArgF32);
                k.StoreI32(k.Address("i"), i + 1);
            });
        });
        layout.SetCode(1, 0, sink);
        layout.SetCode(1, 1, sink);
        var sim = new Simulator(TestPrograms.Wafer(2, 2), layout, new SimulatorOptions { Threads = 1 });
        sim.Launch(10);
        sim.Run();
        Assert.Equal([7f, 9f], sim.Host.MemcpyD2H("got", 1, 0, 1, 1, 2));
        Assert.Equal([107f, 109f], sim.Host.MemcpyD2H("got", 1, 1, 1, 1, 2));
        Assert.Equal([7f, 9f], sim.Host.MemcpyD2H("got", 1, 0, 1, 1, 2));
    }

    [Fact]
    public void ControlWavelet_AdvancesSwitch_AfterItPasses()
    {
        // PE 1 routes color 0 to its RAMP in position 0 and East in position 1; a control wavelet between two data
        // wavelets moves the switch, so the first value lands on PE 1 and the second on PE 2.
        var layout = new FabricLayout(3, 1);
        layout.Route(0, 0, 0, Ports.Ramp, Ports.East);
        layout.Route(1, 0, 0, new ColorRoute([new RoutePosition(Ports.West, Ports.Ramp), new RoutePosition(Ports.West, Ports.East)]));
        layout.Route(2, 0, 0, Ports.West, Ports.Ramp);
        layout.SetCode(0, 0, new PeCode("src").SymbolF32("v", [1f, 2f]).OutputQueue(2, 0)
            .LocalTask(10, ctx =>
            {
                ctx.Fmovs(Dsd.FabOut(0, 1, 2), ctx.Mem("v", 1));
                ctx.Fmovs(Dsd.FabOut(0, 1, 2, control: true), BitConverter.UInt32BitsToSingle(ControlPayload.Make(advanceSwitch: true)));
                ctx.Fmovs(Dsd.FabOut(0, 1, 2), ctx.Mem("v", 1, offset: 1));
            }));
        var sink = new PeCode("sink").SymbolF32("d", 1).InputQueue(1, 0).LocalTask(10, ctx => ctx.Fmovs(ctx.Mem("d"), Dsd.FabIn(0, 1, 1)));
        layout.SetCode(1, 0, sink);
        layout.SetCode(2, 0, sink);
        var sim = new Simulator(TestPrograms.Wafer(3, 1), layout, new SimulatorOptions { Threads = 1 });
        sim.Launch(10);
        sim.Run();
        Assert.Equal(1f, sim.Host.MemcpyD2H("d", 1, 0, 1, 1, 1)[0]);
        Assert.Equal(2f, sim.Host.MemcpyD2H("d", 2, 0, 1, 1, 1)[0]);
    }
}

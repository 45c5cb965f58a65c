// What a compute engine has left undone: stall bookkeeping at the end of a run and the lines of a deadlock report.
namespace Wafer.Fabric.Pe;

internal sealed partial class ComputeEngine
{
    /// <summary>Closes open waits at the end of a run so stall counts cover the whole run.</summary>
    internal void CloseWaits(long endCycle)
    {
        if (_mainActive && endCycle > _mainReadyAt) { StallCycles += endCycle - _mainReadyAt; _mainReadyAt = endCycle; }
        if (_uts is null) return;
        for (var u = 0; u < _uts.Length; u++)
            if (_uts[u].Active && endCycle > _uts[u].ReadyAt) { StallCycles += endCycle - _uts[u].ReadyAt; _uts[u].ReadyAt = endCycle; }
    }

    /// <summary>Anything left undone at quiescence: a deadlock report lists these.</summary>
    internal IEnumerable<string> StuckState()
    {
        if (_mainActive)
        {
            var op = _ops[_mainOp];
            yield return $"main thread waits in a {op.Kind} op at element {_mainNext}/{op.Dst.Length} ({Waiting(op)})";
        }
        if (_uts is not null)
            for (var u = 0; u < _uts.Length; u++)
                if (_uts[u].Active) yield return $"microthread {u} waits in a {_uts[u].Op.Kind} op at element {_uts[u].Next}/{_uts[u].Op.Dst.Length} ({Waiting(_uts[u].Op)})";
        if (_opHead < _ops.Count) yield return $"task {_currentTask} has {_ops.Count - _opHead} ops not issued";
        for (var q = 0; q < _inQueues.Length; q++)
            if (_inQueues[q] is { IsEmpty: false } f) yield return $"input queue {q} (color {_code.InputQueueColor[q]}) holds {f.Count} unconsumed wavelets";
        for (var id = 0; id < 64; id++)
            if (Activated(id) && Blocked(id)) yield return $"task {id} is activated but blocked";
    }

    private static string Waiting(in Op op)
    {
        var parts = new List<string>();
        if (op.A.Kind == OperandKind.Dsd && op.A.Dsd.Kind == DsdKind.FabIn) parts.Add($"fabin color {op.A.Dsd.Color} queue {op.A.Dsd.Queue}");
        if (op.B.Kind == OperandKind.Dsd && op.B.Dsd.Kind == DsdKind.FabIn) parts.Add($"fabin color {op.B.Dsd.Color} queue {op.B.Dsd.Queue}");
        if (op.Dst.Kind == DsdKind.FabOut) parts.Add($"fabout color {op.Dst.Color} queue {op.Dst.Queue}");
        if (op.Dst.Kind == DsdKind.Port || (op.A.Kind == OperandKind.Dsd && op.A.Dsd.Kind == DsdKind.Port)) parts.Add("off-wafer port");
        if (op.Dst.Kind == DsdKind.Fifo || (op.A.Kind == OperandKind.Dsd && op.A.Dsd.Kind == DsdKind.Fifo)) parts.Add("FIFO");
        return string.Join(", ", parts);
    }

    internal bool IsStuck => _mainActive || _activeUts != 0 || _opHead < _ops.Count || (_activated & _blocked) != 0 || AnyInputQueued();

    private bool AnyInputQueued()
    {
        foreach (var q in _inQueues) if (q is { IsEmpty: false }) return true;
        return false;
    }
}

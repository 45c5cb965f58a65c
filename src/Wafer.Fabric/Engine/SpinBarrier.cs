// A sense-reversing spin barrier for the per-cycle phase boundaries (far cheaper than System.Threading.Barrier).
namespace Wafer.Fabric.Engine;

internal sealed class SpinBarrier(int participants)
{
    private readonly int _participants = participants;
    private int _remaining = participants;
    private volatile int _sense;

    public void SignalAndWait()
    {
        if (_participants == 1) return;
        var sense = _sense;
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _remaining = _participants;
            _sense = sense ^ 1;
            return;
        }
        var spin = new SpinWait();
        while (_sense == sense) spin.SpinOnce(sleep1Threshold: -1);
    }
}

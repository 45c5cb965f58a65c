// A PE-local FIFO of fp32 elements (@allocate_fifo, docs/sources.md §2.4): async ops wait while it is empty or full.
namespace Wafer.Fabric.Pe;

internal sealed class FifoBuffer(int capacity, int activateOnPushTask)
{
    private readonly float[] _items = new float[capacity];
    private int _head;
    public int Count { get; private set; }
    public int ActivateOnPushTask { get; } = activateOnPushTask;
    public bool IsEmpty => Count == 0;
    public bool IsFull => Count == _items.Length;

    public void Push(float v)
    {
        var tail = (_head + Count) % _items.Length;
        _items[tail] = v;
        Count++;
    }

    public float Pop()
    {
        var v = _items[_head];
        _head = (_head + 1) % _items.Length;
        Count--;
        return v;
    }
}

// A fixed-capacity FIFO of wavelets, each stamped with the cycle it becomes visible (models ramp latency).
using System.Runtime.CompilerServices;

namespace Wafer.Fabric.Routing;

internal sealed class WaveletFifo(int capacity)
{
    private struct Entry { public Wavelet Wavelet; public long ReadyCycle; }
    private readonly Entry[] _items = new Entry[capacity];
    private int _head;

    public int Capacity => _items.Length;
    public int Count { get; private set; }
    public bool IsEmpty => Count == 0;
    public bool IsFull => Count == _items.Length;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Push(Wavelet w, long readyCycle)
    {
        var tail = _head + Count;
        if (tail >= _items.Length) tail -= _items.Length;
        _items[tail].Wavelet = w;
        _items[tail].ReadyCycle = readyCycle;
        Count++;
    }

    /// <summary>True when the head exists and is visible at <paramref name="cycle"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool HeadReady(long cycle) => Count > 0 && _items[_head].ReadyCycle <= cycle;

    public long HeadReadyCycle => _items[_head].ReadyCycle;
    public Wavelet Peek() => _items[_head].Wavelet;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Wavelet Pop()
    {
        var w = _items[_head].Wavelet;
        _head++;
        if (_head == _items.Length) _head = 0;
        Count--;
        return w;
    }
}

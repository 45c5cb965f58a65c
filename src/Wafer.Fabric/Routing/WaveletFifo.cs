// A fixed-capacity FIFO of wavelets, each stamped with the cycle it becomes visible (models ramp latency).
using System.Runtime.CompilerServices;

namespace Wafer.Fabric.Routing;

internal sealed class WaveletFifo
{
    /// <summary>Largest buffer or queue depth; entries live inside the FIFO object (no separate array to chase).</summary>
    public const int MaxCapacity = 8;

    private struct Entry { public Wavelet Wavelet; public long ReadyCycle; }

    [InlineArray(MaxCapacity)]
    private struct Entries { private Entry _e; }

    private Entries _items;
    private readonly int _capacity;
    private int _head;

    public WaveletFifo(int capacity)
    {
        if (capacity is < 1 or > MaxCapacity) throw new ArgumentOutOfRangeException(nameof(capacity), $"FIFO depth must be 1..{MaxCapacity}");
        _capacity = capacity;
    }

    public int Capacity => _capacity;
    public int Count { get; private set; }
    public bool IsEmpty => Count == 0;
    public bool IsFull => Count == _capacity;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Push(Wavelet w, long readyCycle)
    {
        var tail = _head + Count;
        if (tail >= _capacity) tail -= _capacity;
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
        if (_head == _capacity) _head = 0;
        Count--;
        return w;
    }
}

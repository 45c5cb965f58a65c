// Where MemoryX keeps its state: per segment, fp32 weights, AdamW's two moments and the gradient accumulator, and, for
// segments whose step gradient has more than one term, the exact 128-bit sums the terms are added in (ExactSum.cs).
using Wafer.Core;
namespace Wafer.Gpt.MemoryX;

public enum StateKind { Weights = 0, FirstMoment = 1, SecondMoment = 2, Gradient = 3 }

/// <summary>Contract: holds one float array per (segment, kind), zero-initialised, sized by the layout's segments.
/// Read copies destination.Length floats from element start of that array, Write copies source there; View returns the
/// array itself when it lives in this process's memory (zero-copy) and null when it lives elsewhere (on disk).
/// Implementations: in memory, file-backed.</summary>
public interface ISegmentStorage : IDisposable
{
    void Read(int segment, StateKind kind, long start, Span<float> destination);
    void Write(int segment, StateKind kind, long start, ReadOnlySpan<float> source);
    float[]? View(int segment, StateKind kind);
    /// <summary>Makes room for segment s's exact sums (zero; a no-op when there is room already). Called before any
    /// ReadSums, WriteSums or SumsView of the segment, from one thread.</summary>
    void EnsureSums(int segment);
    void ReadSums(int segment, long start, Span<Int128> destination);
    void WriteSums(int segment, long start, ReadOnlySpan<Int128> source);
    /// <summary>Segment s's exact sums as an array of this process (zero-copy), or null where they live elsewhere.</summary>
    Int128[]? SumsView(int segment);
    /// <summary>Bytes of state held in this process's memory (for the RSS report).</summary>
    long ResidentBytes { get; }
    /// <summary>Makes written data durable (no-op in memory).</summary>
    void Flush();
}

public sealed class InMemoryStorage : ISegmentStorage
{
    private readonly float[][][] _arrays; // [kind][segment]
    private readonly Int128[]?[] _sums;   // [segment], made on first need
    private readonly long _stateBytes;

    public InMemoryStorage(ParameterLayout layout)
    {
        _arrays = new float[4][][];
        for (var k = 0; k < 4; k++)
            _arrays[k] = layout.Segments.Select(s => new float[checked((int)s.Count)]).ToArray();
        _sums = new Int128[layout.Segments.Count][];
        _stateBytes = 16 * layout.Count;
    }

    public long ResidentBytes => _stateBytes + 16L * _sums.Sum(a => a?.LongLength ?? 0);
    public void EnsureSums(int segment) => _sums[segment] ??= new Int128[_arrays[0][segment].Length];
    public void ReadSums(int segment, long start, Span<Int128> destination) =>
        _sums[segment]!.AsSpan((int)start, destination.Length).CopyTo(destination);
    public void WriteSums(int segment, long start, ReadOnlySpan<Int128> source) =>
        source.CopyTo(_sums[segment]!.AsSpan((int)start, source.Length));
    public Int128[]? SumsView(int segment) => _sums[segment];
    public void Read(int segment, StateKind kind, long start, Span<float> destination) =>
        _arrays[(int)kind][segment].AsSpan((int)start, destination.Length).CopyTo(destination);
    public void Write(int segment, StateKind kind, long start, ReadOnlySpan<float> source) =>
        source.CopyTo(_arrays[(int)kind][segment].AsSpan((int)start, source.Length));
    public float[]? View(int segment, StateKind kind) => _arrays[(int)kind][segment];
    public void Flush() { }
    public void Dispose() { }
}

/// <summary>One file per kind (weights.f32, adam_m.f32, adam_v.f32, grad.f32) in a directory, segments back to back,
/// little-endian fp32, read and written with positioned I/O, and grad.sum128 (16 bytes a parameter, made when a step
/// first has more than one gradient term). Nothing is mapped, so what the process holds is only
/// what the executor has in its buffers: a model whose state exceeds RAM still trains.</summary>
public sealed class FileStorage : ISegmentStorage
{
    private static readonly string[] FileNames = ["weights.f32", "adam_m.f32", "adam_v.f32", "grad.f32"];
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle[] _files;
    private readonly long[] _byteOffsets;
    private readonly long[] _counts;
    private readonly string _directory;
    private Microsoft.Win32.SafeHandles.SafeFileHandle? _sums;

    public FileStorage(ParameterLayout layout, string directory)
    {
        Directory.CreateDirectory(directory);
        _directory = directory;
        _counts = layout.Segments.Select(s => s.Count).ToArray();
        _byteOffsets = new long[_counts.Length];
        for (var i = 1; i < _counts.Length; i++) _byteOffsets[i] = _byteOffsets[i - 1] + 4 * _counts[i - 1];
        var total = 4 * layout.Count;
        _files = FileNames.Select(name =>
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path)) File.Delete(path); // fresh, zero-filled state (sparse until written)
            var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.RandomAccess);
            RandomAccess.SetLength(handle, total);
            return handle;
        }).ToArray();
    }

    public long ResidentBytes => 0;

    public void Read(int segment, StateKind kind, long start, Span<float> destination)
    {
        Check(segment, start, destination.Length);
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(destination);
        var at = _byteOffsets[segment] + 4 * start;
        while (!bytes.IsEmpty)
        {
            var n = RandomAccess.Read(_files[(int)kind], bytes, at);
            if (n == 0) throw new IOException($"MemoryX file {FileNames[(int)kind]} is shorter than segment {segment} needs");
            bytes = bytes[n..];
            at += n;
        }
    }

    public void Write(int segment, StateKind kind, long start, ReadOnlySpan<float> source)
    {
        Check(segment, start, source.Length);
        RandomAccess.Write(_files[(int)kind], System.Runtime.InteropServices.MemoryMarshal.AsBytes(source), _byteOffsets[segment] + 4 * start);
    }

    private void Check(int segment, long start, int count)
    {
        if (start < 0 || start + count > _counts[segment]) throw new ArgumentOutOfRangeException(nameof(start), $"[{start}, {start + count}) is outside segment {segment} of {_counts[segment]}");
    }

    public float[]? View(int segment, StateKind kind) => null;

    public void EnsureSums(int segment)
    {
        if (_sums is not null) return;
        var path = Path.Combine(_directory, "grad.sum128");
        if (File.Exists(path)) File.Delete(path);
        _sums = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.RandomAccess);
        RandomAccess.SetLength(_sums, 4 * (_byteOffsets[^1] + 4 * _counts[^1]));
    }

    public void ReadSums(int segment, long start, Span<Int128> destination)
    {
        Check(segment, start, destination.Length);
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(destination);
        var at = 4 * (_byteOffsets[segment] + 4 * start);
        while (!bytes.IsEmpty)
        {
            var n = RandomAccess.Read(_sums!, bytes, at);
            if (n == 0) throw new IOException($"MemoryX file grad.sum128 is shorter than segment {segment} needs");
            bytes = bytes[n..];
            at += n;
        }
    }

    public void WriteSums(int segment, long start, ReadOnlySpan<Int128> source)
    {
        Check(segment, start, source.Length);
        RandomAccess.Write(_sums!, System.Runtime.InteropServices.MemoryMarshal.AsBytes(source), 4 * (_byteOffsets[segment] + 4 * start));
    }

    public Int128[]? SumsView(int segment) => null;

    public void Flush()
    {
        foreach (var f in _files) RandomAccess.FlushToDisk(f);
        if (_sums is not null) RandomAccess.FlushToDisk(_sums);
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _sums?.Dispose();
    }
}

// Host <-> wafer memcpy in copy mode (SdkRuntime.memcpy_h2d / memcpy_d2h, docs/sources.md §3.7): writes or reads a symbol on
// every PE of a rectangle and charges the host link's time: command latency + bytes / bandwidth.
using Wafer.Fabric.Engine;

namespace Wafer.Fabric.Host;

public sealed class HostIo
{
    private readonly Simulator _sim;

    internal HostIo(Simulator sim) => _sim = sim;

    /// <summary>Modelled host-link seconds of every memcpy and launch so far.</summary>
    public double Seconds { get; private set; }
    public long BytesToDevice { get; private set; }
    public long BytesFromDevice { get; private set; }
    public int Commands { get; private set; }

    internal void ChargeCommand()
    {
        Commands++;
        Seconds += _sim.Config.HostCommandLatencySeconds;
    }

    private void Charge(long bytes)
    {
        ChargeCommand();
        Seconds += bytes / _sim.Config.HostBytesPerSecond;
    }

    internal void CheckRect(int x0, int y0, int w, int h, string what)
    {
        if (x0 < 0 || y0 < 0 || w < 1 || h < 1 || x0 + w > _sim.Width || y0 + h > _sim.Height)
            throw new FabricProgramException($"{what}: rectangle at ({x0},{y0}) of {w}x{h} PEs is outside the {_sim.Width}x{_sim.Height} program rectangle");
    }

    /// <summary>Attaches off-wafer port <paramref name="port"/> of PE (x, y) to data[offset .. offset + count): a port DSD
    /// on that PE reads (or writes) the next value each element, at most one every <paramref name="cyclesPerValue"/>
    /// cycles (the link's bandwidth share; 0 = unpaced). Replaces an earlier attachment. Not charged to the host link:
    /// the port is a link of its own (the MemoryX link of a weight-streaming system).</summary>
    public void AttachPort(int x, int y, int port, float[] data, int offset, int count, double cyclesPerValue = 0)
    {
        CheckRect(x, y, 1, 1, $"port {port}");
        if (offset < 0 || count < 0 || offset + (long)count > data.Length)
            throw new FabricProgramException($"port {port} of PE ({x},{y}): values [{offset}, {offset + (long)count}) are outside the {data.Length}-value array");
        if (!(cyclesPerValue >= 0) || double.IsInfinity(cyclesPerValue))
            throw new FabricProgramException($"port {port} of PE ({x},{y}): cycles per value must be a finite number >= 0 (is {cyclesPerValue})");
        var ce = _sim.Pe(x, y).Ce ?? throw new FabricProgramException($"port {port}: PE ({x},{y}) has no code");
        ce.AttachPort(port, new Pe.EdgePort(data, offset, count, cyclesPerValue));
    }

    /// <summary>Values moved through port <paramref name="port"/> of PE (x, y) since it was attached.</summary>
    public int PortMoved(int x, int y, int port) => (_sim.Pe(x, y).Ce ?? throw new FabricProgramException($"port {port}: PE ({x},{y}) has no code")).Port(port).Moved;

    /// <summary>Copies fp32 data into <paramref name="symbol"/> on each PE of the rectangle; PE (x0+i, y0+j) gets
    /// data[((j * w) + i) * elemsPerPe ..] (row-major over PEs, like MemcpyOrder.ROW_MAJOR).</summary>
    public void MemcpyH2D(string symbol, int x0, int y0, int w, int h, ReadOnlySpan<float> data, int elemsPerPe)
    {
        CheckRect(x0, y0, w, h, $"memcpy_h2d '{symbol}'");
        if (data.Length != (long)w * h * elemsPerPe)
            throw new FabricProgramException($"memcpy_h2d '{symbol}': {data.Length} elements given, {w}x{h} PEs x {elemsPerPe} need {(long)w * h * elemsPerPe}");
        for (var j = 0; j < h; j++)
            for (var i = 0; i < w; i++)
                data.Slice((j * w + i) * elemsPerPe, elemsPerPe).CopyTo(Target(symbol, x0 + i, y0 + j, elemsPerPe));
        BytesToDevice += (long)data.Length * 4;
        Charge((long)data.Length * 4);
    }

    /// <summary>Fills <paramref name="symbol"/> on one PE; for drivers that generate each PE's block on the fly.</summary>
    public void MemcpyH2D(string symbol, int x, int y, ReadOnlySpan<float> data)
    {
        CheckRect(x, y, 1, 1, $"memcpy_h2d '{symbol}'");
        data.CopyTo(Target(symbol, x, y, data.Length));
        BytesToDevice += (long)data.Length * 4;
        Seconds += data.Length * 4.0 / _sim.Config.HostBytesPerSecond;
    }

    /// <summary>Writes fp32 data into <paramref name="symbol"/> on PE (x, y) from byte offset <paramref name="byteOffset"/>;
    /// charged by bytes (pair a batch of them with EndBatch).</summary>
    public void WriteAt(string symbol, int x, int y, int byteOffset, ReadOnlySpan<float> data)
    {
        data.CopyTo(Region(symbol, x, y, byteOffset, data.Length));
        BytesToDevice += (long)data.Length * 4;
        Seconds += data.Length * 4.0 / _sim.Config.HostBytesPerSecond;
    }

    /// <summary>Reads fp32 values of <paramref name="symbol"/> on PE (x, y) from byte offset <paramref name="byteOffset"/>.</summary>
    public void ReadAt(string symbol, int x, int y, int byteOffset, Span<float> into)
    {
        Region(symbol, x, y, byteOffset, into.Length).CopyTo(into);
        BytesFromDevice += (long)into.Length * 4;
        Seconds += into.Length * 4.0 / _sim.Config.HostBytesPerSecond;
    }

    private Span<float> Region(string symbol, int x, int y, int byteOffset, int elems)
    {
        CheckRect(x, y, 1, 1, $"memcpy '{symbol}'");
        var sram = _sim.Pe(x, y).Ce?.Sram ?? throw new FabricProgramException($"memcpy '{symbol}': PE ({x},{y}) has no code");
        var (address, bytes) = sram.Symbol(symbol);
        if (byteOffset < 0 || byteOffset % 4 != 0 || byteOffset + (long)elems * 4 > bytes)
            throw new FabricProgramException($"memcpy '{symbol}': {elems} fp32 elements at byte {byteOffset} do not fit the {bytes}-byte symbol on PE ({x},{y})");
        return sram.F32(address + byteOffset, elems);
    }

    /// <summary>Charges one command latency for a batch of per-PE copies made with the single-PE overload.</summary>
    public void EndBatch() => ChargeCommand();

    /// <summary>Reads fp32 <paramref name="symbol"/> from each PE of the rectangle, row-major over PEs.</summary>
    public float[] MemcpyD2H(string symbol, int x0, int y0, int w, int h, int elemsPerPe)
    {
        CheckRect(x0, y0, w, h, $"memcpy_d2h '{symbol}'");
        var result = new float[(long)w * h * elemsPerPe];
        for (var j = 0; j < h; j++)
            for (var i = 0; i < w; i++)
            {
                Target(symbol, x0 + i, y0 + j, elemsPerPe).CopyTo(result.AsSpan((j * w + i) * elemsPerPe, elemsPerPe));
            }
        BytesFromDevice += result.LongLength * 4;
        Charge(result.LongLength * 4);
        return result;
    }

    /// <summary>Copies data rounded to fp16 into an fp16 <paramref name="symbol"/> on each PE of the rectangle, row-major
    /// over PEs (the SDK's MEMCPY_16BIT: one 16-bit value per 32-bit wavelet, so it is charged 4 bytes per value).</summary>
    public void MemcpyH2DF16(string symbol, int x0, int y0, int w, int h, ReadOnlySpan<float> data, int elemsPerPe)
    {
        CheckRect(x0, y0, w, h, $"memcpy_h2d '{symbol}'");
        if (data.Length != (long)w * h * elemsPerPe)
            throw new FabricProgramException($"memcpy_h2d '{symbol}': {data.Length} elements given, {w}x{h} PEs x {elemsPerPe} need {(long)w * h * elemsPerPe}");
        for (var j = 0; j < h; j++)
            for (var i = 0; i < w; i++)
            {
                var (sram, address) = TargetF16(symbol, x0 + i, y0 + j, elemsPerPe);
                var part = data.Slice((j * w + i) * elemsPerPe, elemsPerPe);
                for (var e = 0; e < elemsPerPe; e++) sram.WriteF16(address + 2 * e, (Half)part[e]);
            }
        BytesToDevice += (long)data.Length * 4;
        Charge((long)data.Length * 4);
    }

    /// <summary>Fills an fp16 <paramref name="symbol"/> on one PE (values rounded to fp16); pair with EndBatch.</summary>
    public void MemcpyH2DF16(string symbol, int x, int y, ReadOnlySpan<float> data)
    {
        CheckRect(x, y, 1, 1, $"memcpy_h2d '{symbol}'");
        var (sram, address) = TargetF16(symbol, x, y, data.Length);
        for (var e = 0; e < data.Length; e++) sram.WriteF16(address + 2 * e, (Half)data[e]);
        BytesToDevice += (long)data.Length * 4;
        Seconds += data.Length * 4.0 / _sim.Config.HostBytesPerSecond;
    }

    /// <summary>Reads an fp16 <paramref name="symbol"/> from each PE of the rectangle as floats, row-major over PEs.</summary>
    public float[] MemcpyD2HF16(string symbol, int x0, int y0, int w, int h, int elemsPerPe)
    {
        CheckRect(x0, y0, w, h, $"memcpy_d2h '{symbol}'");
        var result = new float[(long)w * h * elemsPerPe];
        for (var j = 0; j < h; j++)
            for (var i = 0; i < w; i++)
            {
                var (sram, address) = TargetF16(symbol, x0 + i, y0 + j, elemsPerPe);
                for (var e = 0; e < elemsPerPe; e++) result[(j * w + i) * elemsPerPe + e] = (float)sram.ReadF16(address + 2 * e);
            }
        BytesFromDevice += result.LongLength * 4;
        Charge(result.LongLength * 4);
        return result;
    }

    private (Pe.Sram Sram, int Address) TargetF16(string symbol, int x, int y, int elems)
    {
        var sram = _sim.Pe(x, y).Ce?.Sram ?? throw new FabricProgramException($"memcpy '{symbol}': PE ({x},{y}) has no code");
        var (address, bytes) = sram.Symbol(symbol);
        if ((long)elems * 2 > bytes)
            throw new FabricProgramException($"memcpy '{symbol}': {elems} fp16 elements do not fit the {bytes}-byte symbol on PE ({x},{y})");
        return (sram, address);
    }

    /// <summary>The first <paramref name="elems"/> fp32 elements of <paramref name="symbol"/> on PE (x, y).</summary>
    private Span<float> Target(string symbol, int x, int y, int elems)
    {
        var sram = _sim.Pe(x, y).Ce?.Sram ?? throw new FabricProgramException($"memcpy '{symbol}': PE ({x},{y}) has no code");
        var (address, bytes) = sram.Symbol(symbol);
        if ((long)elems * 4 > bytes)
            throw new FabricProgramException($"memcpy '{symbol}': {elems} fp32 elements do not fit the {bytes}-byte symbol on PE ({x},{y})");
        return sram.F32(address, elems);
    }
}

// Files named by the user, read with a bound: a config, a data text or a device (/dev/zero reports length 0 and never
// ends) larger than the bound is refused instead of filling memory, and a missing, unreadable or non-regular file is
// one line naming it.
namespace Wafer.Core;

public static class InputFile
{
    /// <summary>JSON configs (wafer, system, model) are a few KB; 1 MiB is far beyond any real one.</summary>
    public const long ConfigBytes = 1 << 20;

    /// <summary>The bytes of the file at path, at most maxBytes of them; `what` names the file in errors ("model config").</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, string what)
    {
        if (path.Length == 0) throw new WaferInputException($"{what}: the path is empty");
        if (Directory.Exists(path)) throw new WaferInputException($"{what} {path} is a folder, not a file");
        if (!File.Exists(path)) throw new WaferInputException($"{what} {path} does not exist");
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            if (fs.CanSeek && fs.Length > maxBytes) throw new WaferInputException($"{what} {path} is {fs.Length:N0} bytes, more than the {maxBytes:N0} this reads");
            using var ms = new MemoryStream();
            var buffer = new byte[1 << 16];
            int n;
            while ((n = fs.Read(buffer)) > 0)
            {
                if (ms.Length + n > maxBytes) throw new WaferInputException($"{what} {path} holds more than the {maxBytes:N0} bytes this reads (a device or a growing file?)");
                ms.Write(buffer, 0, n);
            }
            return ms.ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WaferInputException($"{what} {path} cannot be read: {e.Message}");
        }
    }

    public static string ReadAllText(string path, long maxBytes, string what)
    {
        var bytes = ReadAllBytes(path, maxBytes, what);
        try { return new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
        catch (System.Text.DecoderFallbackException e) { throw new WaferInputException($"{what} {path} is not UTF-8 text (invalid bytes near offset {e.Index})"); }
    }
}

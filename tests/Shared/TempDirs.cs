// Temporary folders for tests, removed when the test process exits (tests that write files used to leave one folder
// per run in /tmp: ~950 after a day of runs). Linked into each test project that writes files.
using System.Collections.Concurrent;

namespace Wafer.Tests;

internal static class TempDirs
{
    private static readonly ConcurrentBag<string> Made = [];

    static TempDirs() => AppDomain.CurrentDomain.ProcessExit += (_, _) => RemoveAll();

    /// <summary>A new empty folder under the system's temp folder, named prefix + random letters.</summary>
    public static string Create(string prefix)
    {
        var path = Directory.CreateTempSubdirectory(prefix).FullName;
        Made.Add(path);
        return path;
    }

    private static void RemoveAll()
    {
        foreach (var path in Made)
        {
            try { Directory.Delete(path, recursive: true); }
            catch (IOException) { } // still open elsewhere: leave it rather than fail the run at exit
            catch (UnauthorizedAccessException) { }
        }
    }
}

using System.Runtime.InteropServices;

namespace ConsentRegistry.Imaging;

/// <summary>
/// The C allocator's heap, which SkiaSharp decodes into (an interlaced or 1-bit PNG is decoded whole
/// there) and ONNX Runtime runs in. glibc keeps what is freed in its arenas for reuse: after a burst
/// of 100-megapixel uploads the service stayed about 110 MiB above where it started, with its managed
/// heap at 45 MB, and <c>malloc_trim</c> gave it all back (docs/benchmarks.md, image bombs).
/// </summary>
public static partial class NativeHeap
{
    private static bool _unavailable;

    /// <summary>
    /// Returns the free memory of the C allocator's arenas to the system (glibc's <c>malloc_trim(0)</c>);
    /// false where the C library has no such call (musl, macOS, Windows), which is then not asked again.
    /// </summary>
    public static bool Trim()
    {
        if (_unavailable || !OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            MallocTrim(0);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true;
            return false;
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}

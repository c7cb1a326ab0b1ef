#if canImport(Glibc)
import Glibc
#endif

/// glibc malloc settings for small, long-running daemons. `mallopt` and `malloc_trim` live
/// in <malloc.h>, which the Glibc module does not import; they are looked up at run time
/// (and skipped where they do not exist).
public enum ProcessMemory {
    /// glibc's `M_ARENA_MAX`.
    private static let arenaMaxParameter: Int32 = -8

    /// At most two malloc arenas unless `MALLOC_ARENA_MAX` says otherwise: glibc's default
    /// (8 per core) lets a handful of busy threads each keep an arena of freed memory, which
    /// for these daemons is several megabytes of resident memory for nothing.
    public static func limitArenas() {
        #if canImport(Glibc)
        guard getenv("MALLOC_ARENA_MAX") == nil, let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        _ = unsafeBitCast(f, to: Mallopt.self)(arenaMaxParameter, 2)
        #endif
    }

    /// Returns memory freed since the last call to the system (glibc keeps it otherwise): for
    /// work that peaks once per cycle and then idles.
    public static func releaseFreed() {
        #if canImport(Glibc)
        guard let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        typealias MallocTrim = @convention(c) (Int) -> Int32
        _ = unsafeBitCast(f, to: MallocTrim.self)(0)
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#endif
import SSMDCore

/// glibc malloc settings for small, long-running daemons. `mallopt` and `malloc_trim` live
/// in <malloc.h>, which the Glibc module does not import; they are looked up at run time
/// (and skipped where they do not exist).
public enum ProcessMemory {
    /// glibc's `M_ARENA_MAX` and `M_MMAP_THRESHOLD`.
    private static let arenaMaxParameter: Int32 = -8
    private static let mmapThresholdParameter: Int32 = -3

    /// Malloc settings for a small daemon; each environment variable of glibc's
    /// (`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`) still overrides its setting.
    /// * At most two arenas: glibc's default (8 per core) lets a handful of busy threads each
    ///   keep an arena of freed memory, several megabytes of resident memory for nothing.
    /// * Blocks of 128 KiB and more (response bodies, a page's arrays) in their own mappings,
    ///   returned to the system when freed. glibc's default threshold rises to the size of
    ///   the largest block freed, so after the first big page every later one came from the
    ///   heap and its pages stayed resident, fragmented (2–3 MB more for a series-fetcher).
    public static func configureMalloc() {
        #if canImport(Glibc)
        guard let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mallopt = unsafeBitCast(f, to: Mallopt.self)
        if getenv("MALLOC_ARENA_MAX") == nil { _ = mallopt(arenaMaxParameter, 2) }
        if getenv("MALLOC_MMAP_THRESHOLD_") == nil { _ = mallopt(mmapThresholdParameter, 128 << 10) }
        #endif
    }

    /// Returns memory freed since the last call to the system (glibc keeps it otherwise): for
    /// work that peaks once per cycle and then idles. Trimming walks the whole heap, so it
    /// runs on a thread of its own, not on the cooperative pool.
    public static func releaseFreed() async {
        #if canImport(Glibc)
        guard let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        typealias MallocTrim = @convention(c) (Int) -> Int32
        let trim = unsafeBitCast(f, to: MallocTrim.self)
        _ = try? await trimmer.run { _ = trim(0) }
        #endif
    }

    private static let trimmer = BlockingPool(name: "malloc-trim", threads: 1)
}

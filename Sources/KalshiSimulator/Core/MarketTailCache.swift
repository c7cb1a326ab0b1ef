import Foundation

/// Caches each market's time-dependent JSON members (the "tail" after `staticJSON`:
/// status, close/updated time, quotes, volumes, result, settlement) together with the
/// simulated interval over which that rendering is exact, `[from, until)`. A page of
/// markets is then '{' + staticJSON + tail + '}' per market: two memcpys, and a fresh
/// rendering only when the market's visible state changed (`MarketRendering.validUntil`).
///
/// Entries live in one fixed allocation and are guarded by striped locks (a stripe is
/// 1,024 consecutive markets, so a page of 1,000 takes one or two locks).
public final class MarketTailCache: @unchecked Sendable {
    struct Entry {
        var from: Int64 = 1
        var until: Int64 = 0  // empty interval: never valid
        var mode = UpdatedTimeMode.metadataOnly
        var bytes: [UInt8] = []
    }

    static let stripeShift = 10
    let count: Int
    private let entries: UnsafeMutablePointer<Entry>
    private let locks: [NSLock]

    public init(count: Int) {
        self.count = count
        entries = .allocate(capacity: max(count, 1))
        entries.initialize(repeating: Entry(), count: max(count, 1))
        locks = (0...(count >> Self.stripeShift)).map { _ in NSLock() }
    }

    deinit {
        entries.deinitialize(count: max(count, 1))
        entries.deallocate()
    }

    /// Calls `body(i, tail)` for each market index in `items`, in order, with the market's
    /// tail as rendered at `t`. `body` runs under the stripe's lock: keep it to copying.
    /// A rendering is reused only for the same `updated_time` mode (it may change at run time).
    public func forEachTail(_ items: some Sequence<Int>, of universe: Universe, at t: Int64,
                            mode: UpdatedTimeMode = .metadataOnly, _ body: (Int, [UInt8]) -> Void) {
        var held = -1
        defer { if held >= 0 { locks[held].unlock() } }
        for i in items {
            let stripe = i >> Self.stripeShift
            if stripe != held {
                if held >= 0 { locks[held].unlock() }
                locks[stripe].lock()
                held = stripe
            }
            let e = entries + i
            if !(e.pointee.from <= t && t < e.pointee.until && e.pointee.mode == mode) {
                var w = JSONWriter(capacity: 768)
                MarketRendering.appendTail(universe.markets[i], at: t, mode: mode, to: &w)
                e.pointee.mode = mode
                e.pointee.from = t
                e.pointee.until = MarketRendering.validUntil(universe.markets[i], at: t)
                e.pointee.bytes = w.bytes
            }
            body(i, e.pointee.bytes)
        }
    }

    /// Drops every entry (tests; settings never change renderings).
    public func clear() {
        for s in locks.indices {
            locks[s].lock()
            let lo = s << Self.stripeShift, hi = min(count, (s + 1) << Self.stripeShift)
            for i in lo..<hi { entries[i] = Entry() }
            locks[s].unlock()
        }
    }
}

import Foundation

/// Mutable run-time state shared by request handlers: the clock and request counters.
/// Guarded by a lock because handlers run on many NIO threads at once.
public final class SimState: @unchecked Sendable {
    private let lock = NSLock()
    private var clock: SimClock
    private var counters: [String: [Int: Int]] = [:]

    public init(clock: SimClock) { self.clock = clock }

    public static func wallNow() -> Double { Date().timeIntervalSince1970 }

    public func now() -> Int64 {
        let wall = SimState.wallNow()
        lock.lock(); defer { lock.unlock() }
        return clock.nowSeconds(wall: wall)
    }

    public func clockSnapshot() -> (now: Double, speed: Double) {
        let wall = SimState.wallNow()
        lock.lock(); defer { lock.unlock() }
        return (clock.now(wall: wall), clock.speed)
    }

    public func updateClock(speed: Double?, advance: Double?) {
        let wall = SimState.wallNow()
        lock.lock(); defer { lock.unlock() }
        if let s = speed { clock.setSpeed(s, wall: wall) }
        if let a = advance { clock.advance(by: a, wall: wall) }
    }

    public func count(endpoint: String, status: Int) {
        lock.lock(); defer { lock.unlock() }
        counters[endpoint, default: [:]][status, default: 0] += 1
    }

    public func statsJSON() -> [UInt8] {
        lock.lock()
        let snapshot = counters
        lock.unlock()
        var w = JSONWriter()
        var total = 0
        w.raw("{\"requests\":{")
        for (i, (ep, byStatus)) in snapshot.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { w.comma() }
            w.string(ep); w.raw(":{")
            for (j, (code, n)) in byStatus.sorted(by: { $0.key < $1.key }).enumerated() {
                if j > 0 { w.comma() }
                w.string(String(code)); w.raw(":"); w.int(n)
                total += n
            }
            w.raw("}")
        }
        w.raw("},\"total\":"); w.int(total); w.raw("}")
        return w.bytes
    }
}

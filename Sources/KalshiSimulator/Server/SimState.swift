import Foundation

/// Mutable run-time state shared by request handlers: the clock and request counters.
/// Guarded by a lock because handlers run on many NIO threads at once.
public final class SimState: @unchecked Sendable {
    private let lock = NSLock()
    private var clock: SimClock
    private var counters: [String: [Int: Int]] = [:]
    private var settings: SimSettings
    private var signedBucket: TokenBucket
    private var unsignedBucket: TokenBucket
    private var requestNumber: UInt64 = 0

    public init(clock: SimClock, settings: SimSettings = SimSettings()) {
        self.clock = clock
        self.settings = settings
        let wall = SimState.wallNow()
        signedBucket = TokenBucket(tokensPerSecond: settings.rateTokensPerSecond, burstSeconds: settings.rateBurstSeconds, now: wall)
        unsignedBucket = TokenBucket(tokensPerSecond: settings.unsignedRateTokensPerSecond, burstSeconds: settings.rateBurstSeconds, now: wall)
    }

    /// Numbers an exchange request, picks its faults and meters it. Returns nil when the
    /// request is over budget (answer 429).
    public func admit(signed: Bool) -> (number: UInt64, faults: FaultPlan)? {
        let wall = SimState.wallNow()
        lock.lock(); defer { lock.unlock() }
        requestNumber += 1
        if settings.rateLimit {
            let ok = signed ? signedBucket.take(settings.requestCost, now: wall) : unsignedBucket.take(settings.requestCost, now: wall)
            if !ok { return nil }
        }
        return (requestNumber, FaultPlan(settings: settings, requestNumber: requestNumber))
    }

    public func currentSettings() -> SimSettings {
        lock.lock(); defer { lock.unlock() }
        return settings
    }

    public func updateSettings(_ obj: [String: Any]) throws(APIError) -> SimSettings {
        let wall = SimState.wallNow()
        lock.lock(); defer { lock.unlock() }
        var s = settings
        try s.apply(obj)
        settings = s
        signedBucket.reconfigure(tokensPerSecond: s.rateTokensPerSecond, burstSeconds: s.rateBurstSeconds, now: wall)
        unsignedBucket.reconfigure(tokensPerSecond: s.unsignedRateTokensPerSecond, burstSeconds: s.rateBurstSeconds, now: wall)
        return s
    }

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

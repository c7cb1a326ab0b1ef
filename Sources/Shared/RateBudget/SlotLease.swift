/// How many slots of the shared schedule one compare-and-set takes (`--rate-lease-slots`).
///
/// One compare-and-set per request costs a round trip to the KV key's leader — through Raft
/// on a replicated bucket, about 1.4 ms sequentially on loopback at three replicas — so a
/// fleet sharing one key tops out near a few hundred requests/s. A replica that takes a
/// block of consecutive slots in one write spends that round trip once per block.
public enum LeaseSize: Sendable, Equatable, CustomStringConvertible {
    /// Sized by ``LeaseSizer`` from the scheduled rate and the compare-and-set latency this
    /// process observes.
    case auto
    /// A fixed number of slots per compare-and-set; 1 is one write per request.
    case slots(Int)

    public static let maximumSlots = 10_000

    /// "auto" or a whole number of slots, 1 … ``maximumSlots``.
    public init?(_ text: String) {
        let t = String(text.filter { !$0.isWhitespace }).lowercased()
        if t == "auto" { self = .auto; return }
        guard let n = Int(t), (1...Self.maximumSlots).contains(n) else { return nil }
        self = .slots(n)
    }

    public var description: String {
        switch self {
        case .auto: "auto"
        case .slots(let n): "\(n)"
        }
    }
}

/// The size of the next block of slots, from the rate the bucket schedules at and how long a
/// compare-and-set takes here (pure: the caller measures).
///
/// A block covers `latencyMultiple` compare-and-set round trips of the fleet's rate, within
/// `minimumSeconds … maximumSeconds`. The fleet then writes the key about
/// 1 / (latencyMultiple × latency) times a second whatever its size or the tier: a small
/// share of what the key can take, so racing replicas seldom collide. The upper bound keeps
/// what a dead replica wastes, and how long a replica goes on sending from a block after
/// another one's 429, to a tenth of a second of the rate.
public struct LeaseSizer: Sendable, Equatable {
    public var latencyMultiple: Double = 8
    public var minimumSeconds: Double = 0.01
    public var maximumSeconds: Double = 0.1
    /// Weight of the newest latency sample in the running average.
    public var smoothing: Double = 0.2

    public init() {}

    /// Slots per block at `requestsPerSecond`, given the running average compare-and-set
    /// latency (µs; 0 before the first one).
    public func slots(requestsPerSecond: Double, latencyMicros: Double) -> Int {
        guard requestsPerSecond > 0, requestsPerSecond.isFinite else { return 1 }
        let seconds = min(maximumSeconds, max(minimumSeconds, latencyMultiple * max(0, latencyMicros) / 1e6))
        let n = (requestsPerSecond * seconds).rounded(.up)
        return Int(min(Double(LeaseSize.maximumSlots), max(1, n)))
    }

    /// The running average after one more sample.
    public func averaged(_ average: Double, sample: Double) -> Double {
        average == 0 ? sample : average + smoothing * (sample - average)
    }
}

/// Slots of the shared schedule one replica holds: send times (µs) taken from the global
/// bucket in one compare-and-set, handed to this process's requests in order.
///
/// Only this replica may use them — the schedule moved past them when they were taken — so
/// the fleet never sends more than the tier, however the slots are shared out. A slot
/// nobody here took by `lateness` after its time is dropped, never sent late: a late send
/// would land on top of the slots after it and eat into the exchange bucket's jitter margin.
/// A replica that dies takes its unused slots with it; that costs utilization, never a 429.
public struct SlotLease: Sendable, Equatable {
    private var slots: [Int64]
    private var next = 0

    public init(slots: [Int64] = []) { self.slots = slots }

    /// Slots not yet taken (some may be too late to use).
    public var remaining: Int { slots.count - next }

    /// The next slot still usable at `now`, and how many expired slots were dropped to find
    /// it; nil when the lease is used up.
    public mutating func take(now: Int64, lateness: Int64) -> (sendAt: Int64?, dropped: Int) {
        var dropped = 0
        while next < slots.count {
            let s = slots[next]
            next += 1
            if s >= now - lateness { return (s, dropped) }
            dropped += 1
        }
        return (nil, dropped)
    }

    /// Gives up every slot left (a 429: the shared cooldown outranks them); how many.
    public mutating func forfeit() -> Int {
        let n = remaining
        slots = []
        next = 0
        return n
    }
}

/// The Generic Cell Rate Algorithm for a token bucket, as pure math.
///
/// The whole state is one number — the theoretical arrival time (TAT) — plus a shared
/// cooldown deadline and a throttle factor, which is why it fits in one NATS KV value
/// updated by compare-and-set. Requests *reserve* a slot: the caller learns when it may send
/// and sleeps until then, so a replica does one state update per request however long it
/// waits.
///
/// Throttle feedback is additive-increase / multiplicative-decrease: a 429 halves the rate
/// every replica schedules at (the exchange's real budget may be lower than configured —
/// unsigned traffic, a lowered tier) and starts a cooldown; the rate then recovers linearly
/// to the configured one over `recoverySeconds`.
public struct GCRA: Sendable, Equatable {
    /// Refill rate in tokens per second (Kalshi Basic: 200).
    public var tokensPerSecond: Double
    /// Bucket depth expressed in seconds of refill (Kalshi: about 2 s).
    public var burstSeconds: Double
    /// Time for the throttle factor to climb from 0 back to 1.
    public var recoverySeconds: Double = 60
    /// The lowest share of the configured rate a 429 storm can push the schedule to.
    public var minimumFactor: Double = 0.05

    public init(tokensPerSecond: Double, burstSeconds: Double) {
        precondition(tokensPerSecond > 0 && burstSeconds >= 0)
        self.tokensPerSecond = tokensPerSecond
        self.burstSeconds = burstSeconds
    }

    public struct State: Sendable, Equatable, Codable {
        /// Microseconds since the epoch at which the bucket would be exactly full again.
        public var tat: Int64
        /// No reservation may start before this instant (shared 429 back-off).
        public var cooldownUntil: Int64
        /// Share of the configured rate currently scheduled (1 = all of it).
        public var factor: Double
        /// When `factor` was last brought up to date (µs).
        public var factorAt: Int64

        public init(tat: Int64 = 0, cooldownUntil: Int64 = 0, factor: Double = 1, factorAt: Int64 = 0) {
            self.tat = tat; self.cooldownUntil = cooldownUntil; self.factor = factor; self.factorAt = factorAt
        }

        enum CodingKeys: String, CodingKey { case tat, cooldownUntil = "cooldown_until", factor, factorAt = "factor_at" }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            tat = try c.decodeIfPresent(Int64.self, forKey: .tat) ?? 0
            cooldownUntil = try c.decodeIfPresent(Int64.self, forKey: .cooldownUntil) ?? 0
            factor = min(1, max(0.0001, try c.decodeIfPresent(Double.self, forKey: .factor) ?? 1))
            factorAt = try c.decodeIfPresent(Int64.self, forKey: .factorAt) ?? 0
        }
    }

    public struct Reservation: Sendable, Equatable {
        /// When the request may be sent (≤ now means immediately).
        public var sendAt: Int64
        public var newState: State
        public func wait(from now: Int64) -> Int64 { max(0, sendAt - now) }
    }

    /// Shared state is written by other processes: a value more than an hour ahead (a
    /// corrupted key, a clock far off) is treated as a full bucket rather than a reason to
    /// wait forever — or to overflow.
    func sane(_ state: State, now: Int64) -> State {
        let horizon = now &+ 3_600_000_000
        var s = state
        if s.tat > horizon || s.tat < 0 { s.tat = now }
        if s.cooldownUntil > horizon || s.cooldownUntil < 0 { s.cooldownUntil = 0 }
        if !(s.factor > 0) || s.factor > 1 { s.factor = 1 }
        return s
    }

    /// The throttle factor at `now`, recovered linearly since it was last set.
    public func factor(at now: Int64, state: State) -> Double {
        guard state.factor < 1 else { return 1 }
        let elapsed = Double(max(0, now - state.factorAt)) / 1e6
        return min(1, state.factor + elapsed / recoverySeconds)
    }

    /// Reserves `cost` tokens at `now` (microseconds). Always succeeds; the answer says when.
    public func reserve(cost: Int, now: Int64, state: State) -> Reservation {
        let f = factor(at: now, state: state)
        let increment = Int64((Double(cost) / (tokensPerSecond * f) * 1e6).rounded())
        let tolerance = Int64((burstSeconds * 1e6).rounded())
        let state = sane(state, now: now)
        // A TAT in the past is a full bucket: idle time never banks more than the burst.
        let start = max(state.tat, now, state.cooldownUntil)
        let newTAT = start + increment
        // Virtual scheduling: a request conforms once now ≥ TAT_old − (burst − T), i.e. once
        // now ≥ newTAT − burst.
        let sendAt = max(newTAT - tolerance, state.cooldownUntil, now)
        return Reservation(sendAt: sendAt, newState: State(tat: newTAT, cooldownUntil: state.cooldownUntil,
                                                           factor: f, factorAt: now))
    }

    /// `count` consecutive reservations of `cost` tokens at `now`, taken at once: the send
    /// time of each, in order, and the state after the last. The same slots `count` calls of
    /// ``reserve(cost:now:state:)`` would hand out one by one — so a replica may take a
    /// block in one compare-and-set and nobody else can be given any of them.
    public func reserveBlock(count: Int, cost: Int, now: Int64, state: State) -> (sendAts: [Int64], newState: State) {
        var state = state
        var sendAts: [Int64] = []
        sendAts.reserveCapacity(max(1, count))
        for _ in 0..<max(1, count) {
            let r = reserve(cost: cost, now: now, state: state)
            sendAts.append(r.sendAt)
            state = r.newState
        }
        return (sendAts, state)
    }

    /// After a 429: nobody sends before `now + cooldown`, the bucket restarts empty then, and
    /// the scheduled rate halves.
    public func throttled(now: Int64, cooldown: Int64, state: State) -> State {
        let state = sane(state, now: now)
        let until = max(state.cooldownUntil, now + cooldown)
        // Several replicas may report the same storm: halve at most once per cooldown.
        let alreadyHalved = state.cooldownUntil > now
        let f = factor(at: now, state: state)
        return State(tat: max(state.tat, until), cooldownUntil: until,
                     factor: alreadyHalved ? f : max(minimumFactor, f / 2), factorAt: now)
    }
}

/// The Generic Cell Rate Algorithm for a token bucket, as pure math.
///
/// The whole state is one number — the theoretical arrival time (TAT) — plus a shared
/// cooldown deadline, which is why it fits in one NATS KV value updated by compare-and-set.
/// Requests *reserve* a slot: the caller learns when it may send and sleeps until then, so a
/// replica does one state update per request however long it waits.
public struct GCRA: Sendable, Equatable {
    /// Refill rate in tokens per second (Kalshi Basic: 200).
    public var tokensPerSecond: Double
    /// Bucket depth expressed in seconds of refill (Kalshi: about 2 s).
    public var burstSeconds: Double

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
        public init(tat: Int64 = 0, cooldownUntil: Int64 = 0) { self.tat = tat; self.cooldownUntil = cooldownUntil }
    }

    public struct Reservation: Sendable, Equatable {
        /// When the request may be sent (≤ now means immediately).
        public var sendAt: Int64
        public var newState: State
        public func wait(from now: Int64) -> Int64 { max(0, sendAt - now) }
    }

    /// Reserves `cost` tokens at `now` (microseconds). Always succeeds; the answer says when.
    public func reserve(cost: Int, now: Int64, state: State) -> Reservation {
        let increment = Int64((Double(cost) / tokensPerSecond * 1e6).rounded())
        let tolerance = Int64((burstSeconds * 1e6).rounded())
        // A TAT in the past is a full bucket: idle time never banks more than the burst.
        let start = max(state.tat, now, state.cooldownUntil)
        let newTAT = start + increment
        // Virtual scheduling: a request conforms once now ≥ TAT_old − (burst − T), i.e. once
        // now ≥ newTAT − burst.
        let sendAt = max(newTAT - tolerance, state.cooldownUntil, now)
        return Reservation(sendAt: sendAt, newState: State(tat: newTAT, cooldownUntil: state.cooldownUntil))
    }

    /// After a 429: nobody sends before `now + cooldown`, and the bucket restarts empty then.
    public func throttled(now: Int64, cooldown: Int64, state: State) -> State {
        let until = max(state.cooldownUntil, now + cooldown)
        return State(tat: max(state.tat, until), cooldownUntil: until)
    }
}

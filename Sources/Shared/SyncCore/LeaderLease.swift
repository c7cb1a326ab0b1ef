import SSMDCore

/// Who runs the series-fetcher's schedules when several run for availability: the holder of
/// a lease kept in NATS KV (`ssmd_state`, `leader.series-fetcher`) by compare-and-set on the
/// key's revision, renewed well before it expires. A standby takes the lease only once it has
/// lapsed, so two leaders never overlap by more than the clock skew between their hosts.
///
/// Pure: the election shell reads the key, asks `decide`, and writes what it says.
public struct LeaderLease: Codable, Sendable, Equatable {
    public var holder: String
    public var expiresAt: Timestamp

    public init(holder: String, expiresAt: Timestamp) {
        self.holder = holder
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey { case holder, expiresAt = "expires_at" }

    /// What an instance does after reading the key.
    public enum Decision: Sendable, Equatable {
        /// Write this lease: create the key (`revision` nil) or update it at `revision`.
        case write(LeaderLease, revision: UInt64?)
        /// Someone else holds a live lease; look again at `until` at the latest.
        case wait(holder: String, until: Timestamp)
    }

    /// - Parameters:
    ///   - current: the lease stored now and its revision (nil: none).
    ///   - me: this instance's id.
    ///   - period: how long a written lease lasts.
    public static func decide(current: (lease: LeaderLease, revision: UInt64)?, me: String, now: Timestamp,
                              period: Duration) -> Decision {
        let mine = LeaderLease(holder: me, expiresAt: Timestamp(microsecondsSinceEpoch: now.microsecondsSinceEpoch + period.milliseconds * 1000))
        guard let current else { return .write(mine, revision: nil) }
        if current.lease.holder == me || current.lease.expiresAt <= now {
            return .write(mine, revision: current.revision)
        }
        return .wait(holder: current.lease.holder, until: current.lease.expiresAt)
    }
}

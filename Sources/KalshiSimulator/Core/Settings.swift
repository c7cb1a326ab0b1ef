/// Run-time settings: rate limiting and injected faults. Set by flags at start and by
/// `POST /_sim/settings` (a JSON object with any subset of the keys of `json`).
public struct SimSettings: Sendable, Equatable {
    public var rateLimit = true
    /// Refill per second and bucket size in seconds of refill, for signed requests
    /// (`KALSHI-ACCESS-KEY` present) and unsigned ones; each has its own bucket.
    public var rateTokensPerSecond = 200.0
    public var rateBurstSeconds = 2.0
    public var unsignedRateTokensPerSecond = 200.0
    public var requestCost = 10.0

    /// Latency added to every exchange request: fixed + uniform random in [0, jitter].
    public var latencyFixedMs = 0.0
    public var latencyJitterMs = 0.0
    /// Probabilities per exchange request, each drawn independently from `faultSeed` and
    /// the request's sequence number, so a run with the same requests repeats exactly.
    public var error5xxRate = 0.0
    public var connectionResetRate = 0.0
    public var truncatedBodyRate = 0.0
    public var malformedJSONRate = 0.0
    /// A paginated answer returns the request's own cursor again (the page repeats).
    public var repeatCursorRate = 0.0
    /// A paginated answer holds more items than `limit` asked for.
    public var oversizedPageRate = 0.0
    public var faultSeed: UInt64 = 1

    /// What moves a market's `updated_time` (`--updated-time`).
    public var updatedTimeMode = UpdatedTimeMode.metadataOnly

    /// WebSocket faults, drawn per lifecycle message addressed to a connection from
    /// `faultSeed`, the connection's number and the message's number on it: the connection
    /// is dropped (TCP close, no close frame) instead of sending it, or the message is lost.
    public var wsDropRate = 0.0
    public var wsMessageLossRate = 0.0
    /// Seconds between the server's `heartbeat` Ping frames (docs: 10); 0 = none.
    public var wsPingIntervalSeconds = 10.0

    public init() {}

    static let rateKeys = ["error_5xx_rate", "connection_reset_rate", "truncated_body_rate", "malformed_json_rate",
                           "repeat_cursor_rate", "oversized_page_rate", "ws_drop_rate", "ws_message_loss_rate"]

    /// Applies a decoded JSON object; unknown keys and out-of-range values are errors.
    public mutating func apply(_ obj: [String: Any]) throws(APIError) {
        func num(_ k: String) throws(APIError) -> Double? {
            guard let v = obj[k] else { return nil }
            if let d = v as? Double, d.isFinite { return d }
            if let i = v as? Int { return Double(i) }
            throw .badRequest("\(k) must be a number")
        }
        func nonNegative(_ k: String) throws(APIError) -> Double? {
            guard let d = try num(k) else { return nil }
            guard d >= 0 else { throw .badRequest("\(k) must be >= 0") }
            return d
        }
        func rate(_ k: String) throws(APIError) -> Double? {
            guard let d = try num(k) else { return nil }
            guard d >= 0, d <= 1 else { throw .badRequest("\(k) must be in [0, 1]") }
            return d
        }
        let known = Set(["rate_limit", "rate_tokens_per_s", "rate_burst_s", "unsigned_rate_tokens_per_s", "request_cost",
                                  "latency_fixed_ms", "latency_jitter_ms", "fault_seed", "updated_time",
                                  "ws_ping_interval_s"]).union(Self.rateKeys)
        if let bad = obj.keys.first(where: { !known.contains($0) }) { throw .badRequest("unknown setting: \(bad)") }
        if let v = obj["rate_limit"] {
            switch v {
            case let b as Bool: rateLimit = b
            case let s as String where s == "on" || s == "off": rateLimit = s == "on"
            default: throw .badRequest("rate_limit must be true/false or \"on\"/\"off\"")
            }
        }
        if let v = try nonNegative("rate_tokens_per_s") { rateTokensPerSecond = v }
        if let v = try nonNegative("rate_burst_s") { rateBurstSeconds = v }
        if let v = try nonNegative("unsigned_rate_tokens_per_s") { unsignedRateTokensPerSecond = v }
        if let v = try nonNegative("request_cost") { requestCost = v }
        if let v = try nonNegative("latency_fixed_ms") { latencyFixedMs = v }
        if let v = try nonNegative("latency_jitter_ms") { latencyJitterMs = v }
        if let v = try rate("error_5xx_rate") { error5xxRate = v }
        if let v = try rate("connection_reset_rate") { connectionResetRate = v }
        if let v = try rate("truncated_body_rate") { truncatedBodyRate = v }
        if let v = try rate("malformed_json_rate") { malformedJSONRate = v }
        if let v = try rate("repeat_cursor_rate") { repeatCursorRate = v }
        if let v = try rate("oversized_page_rate") { oversizedPageRate = v }
        if let v = try nonNegative("fault_seed") { faultSeed = UInt64(v) }
        if let v = obj["updated_time"] {
            guard let s = v as? String, let m = UpdatedTimeMode(rawValue: s) else {
                throw .badRequest("updated_time must be \"metadata-only\" or \"every-change\"")
            }
            updatedTimeMode = m
        }
        if let v = try rate("ws_drop_rate") { wsDropRate = v }
        if let v = try rate("ws_message_loss_rate") { wsMessageLossRate = v }
        if let v = try nonNegative("ws_ping_interval_s") { wsPingIntervalSeconds = v }
    }

    public var json: [UInt8] {
        var w = JSONWriter()
        w.raw("{\"rate_limit\":"); w.bool(rateLimit)
        w.raw(",\"rate_tokens_per_s\":"); w.double(rateTokensPerSecond)
        w.raw(",\"rate_burst_s\":"); w.double(rateBurstSeconds)
        w.raw(",\"unsigned_rate_tokens_per_s\":"); w.double(unsignedRateTokensPerSecond)
        w.raw(",\"request_cost\":"); w.double(requestCost)
        w.raw(",\"latency_fixed_ms\":"); w.double(latencyFixedMs)
        w.raw(",\"latency_jitter_ms\":"); w.double(latencyJitterMs)
        w.raw(",\"error_5xx_rate\":"); w.double(error5xxRate)
        w.raw(",\"connection_reset_rate\":"); w.double(connectionResetRate)
        w.raw(",\"truncated_body_rate\":"); w.double(truncatedBodyRate)
        w.raw(",\"malformed_json_rate\":"); w.double(malformedJSONRate)
        w.raw(",\"repeat_cursor_rate\":"); w.double(repeatCursorRate)
        w.raw(",\"oversized_page_rate\":"); w.double(oversizedPageRate)
        w.raw(",\"fault_seed\":"); w.int(Int64(bitPattern: faultSeed))
        w.raw(",\"updated_time\":"); w.string(updatedTimeMode.rawValue)
        w.raw(",\"ws_drop_rate\":"); w.double(wsDropRate)
        w.raw(",\"ws_message_loss_rate\":"); w.double(wsMessageLossRate)
        w.raw(",\"ws_ping_interval_s\":"); w.double(wsPingIntervalSeconds)
        w.raw("}")
        return w.bytes
    }
}

/// Which faults hit one request: a pure function of the settings and the request's
/// sequence number.
public struct FaultPlan: Sendable, Equatable {
    public var latencyMs = 0.0
    public var serverError = false
    public var connectionReset = false
    public var truncatedBody = false
    public var malformedJSON = false
    public var repeatCursor = false
    public var oversizedPage = false

    public init() {}

    public init(settings s: SimSettings, requestNumber n: UInt64) {
        func draw(_ salt: UInt64) -> Double {
            Double(SimRandom.mix(SimRandom.mix(s.faultSeed, n), salt) >> 11) / Double(1 << 53)
        }
        latencyMs = s.latencyFixedMs + s.latencyJitterMs * draw(1)
        serverError = draw(2) < s.error5xxRate
        connectionReset = draw(3) < s.connectionResetRate
        truncatedBody = draw(4) < s.truncatedBodyRate
        malformedJSON = draw(5) < s.malformedJSONRate
        repeatCursor = draw(6) < s.repeatCursorRate
        oversizedPage = draw(7) < s.oversizedPageRate
    }

    /// The WebSocket fault for the `n`-th lifecycle message addressed to connection `c`.
    public static func webSocket(settings s: SimSettings, connection c: UInt64, message n: UInt64) -> (drop: Bool, lose: Bool) {
        func draw(_ salt: UInt64) -> Double {
            Double(SimRandom.mix(SimRandom.mix(SimRandom.mix(s.faultSeed, c &+ 0x5753), n), salt) >> 11) / Double(1 << 53)
        }
        return (draw(21) < s.wsDropRate, draw(22) < s.wsMessageLossRate)
    }

    /// Corrupts a JSON body so that no parser accepts it (cut short, then a stray brace).
    public static func malform(_ body: [UInt8]) -> [UInt8] {
        Array(body.prefix(max(1, body.count / 2))) + Array("\",}{".utf8)
    }
}

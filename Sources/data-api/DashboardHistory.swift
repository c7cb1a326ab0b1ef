import Foundation
import Logging
import ServiceLifecycle
import DaemonKit
import NATSClient
import Pipeline
import RateBudget
import SSMDCore
import Synchronization
import WireContract

// The dashboard's history: data-api samples the pipeline's state from NATS every few seconds
// into a bounded ring in memory, and the page draws the samples as small inline SVG charts.
// Nothing is stored: a restarted data-api starts a new history (the page says how far back it
// goes). Counts that only grow (requests, tokens, 429s) come from the shared budget's totals in
// NATS KV, which every replica adds to, so the charts need no daemon's /metrics.

/// What the pipeline looked like at one instant: the figures the charts need, not the whole
/// state (a pipeline can have hundreds of work consumers).
struct PipelineSample: Sendable, Equatable {
    /// Microseconds since the epoch.
    var at: Int64
    /// False when NATS could not be read: the charts leave a gap.
    var reachable = true
    /// The global bucket of the shared rate budget (nil: no shared budget in use yet).
    var budget: BudgetRecord?
    /// Work items not yet delivered, and delivered but not acked, over every work consumer.
    var workPending: UInt64 = 0
    var workInFlight: Int64 = 0
    /// The writer consumer's backlog (nil: no writer consumer yet).
    var writerPending: UInt64?
    var writerInFlight: Int64?
    /// Per schedule, when its last completed cycle started (µs).
    var cycleStarts: [String: Int64] = [:]
    /// The series-fetcher holding the leader lease (nil: none written yet).
    var leader: String?

    static func unreachable(at: Int64) -> PipelineSample { PipelineSample(at: at, reachable: false) }

    init(at: Int64, reachable: Bool = true) { self.at = at; self.reachable = reachable }

    init(at: Int64, state: Dashboard.PipelineState) {
        self.at = at
        budget = state.budgets.first { $0.key == SharedRequestBudget.globalKey }?.record
        workPending = state.work.reduce(0) { $0 + $1.pending }
        workInFlight = state.work.reduce(0) { $0 + $1.ackPending }
        writerPending = state.writer?.pending
        writerInFlight = state.writer?.ackPending
        for c in state.cycles { cycleStarts[c.schedule] = c.startedAt.microsecondsSinceEpoch }
        leader = state.leader?.holder
    }

    /// Where the leader lease changed hands between two readable samples: when it was first
    /// seen with its new holder, and who held it before.
    static func leaderChanges(_ samples: [PipelineSample]) -> [(at: Int64, from: String, to: String)] {
        var out: [(at: Int64, from: String, to: String)] = []
        var previous: String?
        for s in samples where s.reachable {
            if let p = previous, let now = s.leader, now != p { out.append((s.at, p, now)) }
            if let l = s.leader { previous = l }
        }
        return out
    }
}

/// The last `capacity` samples, oldest first.
final class PipelineHistory: Sendable {
    let capacity: Int
    let interval: Duration
    private let ring: Mutex<[PipelineSample]>

    init(interval: Duration, window: Duration) {
        self.interval = interval
        capacity = max(2, Int((window.seconds / max(0.001, interval.seconds)).rounded(.up)) + 1)
        ring = Mutex([])
    }

    func append(_ sample: PipelineSample) {
        ring.withLock { r in
            r.append(sample)
            if r.count > capacity { r.removeFirst(r.count - capacity) }
        }
    }

    func samples() -> [PipelineSample] { ring.withLock { $0 } }

    /// How far back the history can reach, for the page.
    var window: Duration { interval * (capacity - 1) }
}

/// Samples the pipeline every `interval` on one long-lived NATS connection (reconnected when
/// lost), as a service of data-api's group.
struct PipelineSampler: Service {
    let dashboard: Dashboard
    let history: PipelineHistory
    let logger: Logger

    func run() async throws {
        var connection: NATSConnection?
        var failing = false
        defer { connection?.close() }
        repeat {
            let now = Timestamp.now().microsecondsSinceEpoch
            do {
                if connection.map({ $0.isClosed }) ?? true {
                    connection = try await NATSConnection.connect(options: dashboard.dashboardNATSOptions, logger: logger)
                }
                guard let c = connection, c.isConnected else { throw NATSError.connection("not connected") }
                let state = try await dashboard.pipelineState(js: try c.jetStream())
                history.append(PipelineSample(at: now, state: state))
                if failing { logger.info("dashboard sampling resumed") }
                failing = false
            } catch {
                history.append(.unreachable(at: now))
                if !failing { logger.warning("dashboard cannot sample the pipeline; its charts show a gap", metadata: ["error": "\(error)"]) }
                failing = true
                // A connection that never came back is replaced on the next round.
                if let c = connection, !c.isConnected { c.close(); connection = nil }
            }
        } while await sleepUnlessShuttingDown(history.interval)
    }
}

// MARK: The charts, as pure values

/// One line of a chart: y values at x (seconds since the epoch); nil is a gap.
struct ChartSeries: Sendable, Equatable {
    var name: String
    var color: String
    var points: [(x: Double, y: Double?)]

    static func == (a: ChartSeries, b: ChartSeries) -> Bool {
        a.name == b.name && a.color == b.color && a.points.count == b.points.count
            && zip(a.points, b.points).allSatisfy { $0.x == $1.x && $0.y == $1.y }
    }

    var values: [Double] { points.compactMap(\.y) }
    var last: Double? { points.last(where: { $0.y != nil })?.y ?? nil }
}

/// The five charts an operator watches, computed from the samples.
struct DashboardCharts: Sendable {
    var budgetUse: ChartSeries
    var requests: ChartSeries
    var throttled: ChartSeries
    var workPending: ChartSeries
    var workInFlight: ChartSeries
    var writerPending: ChartSeries
    var writerInFlight: ChartSeries
    var dataAge: [ChartSeries]
    /// Requests and 429s over the samples' span (from the budget's totals).
    var requestsInWindow: Int64
    var throttledInWindow: Int64
    var hasSharedBudget: Bool

    static let palette = ["#2f5fd0", "#d07a2f", "#2f9e5f", "#8a3fd0", "#c0392b", "#1f8a99", "#7a6a2f", "#d02f8e"]

    init(samples: [PipelineSample]) {
        var use = ChartSeries(name: "budget use %", color: "#2f5fd0", points: [])
        var req = ChartSeries(name: "requests/s", color: "#2f5fd0", points: [])
        var thr = ChartSeries(name: "429/s", color: "#c0392b", points: [])
        var wp = ChartSeries(name: "pending", color: "#2f5fd0", points: [])
        var wf = ChartSeries(name: "in flight", color: "#d07a2f", points: [])
        var lp = ChartSeries(name: "pending", color: "#2f5fd0", points: [])
        var lf = ChartSeries(name: "in flight", color: "#d07a2f", points: [])
        var requestsTotal: Int64 = 0, throttledTotal: Int64 = 0
        var schedules: [String] = []
        for s in samples { for k in s.cycleStarts.keys where !schedules.contains(k) { schedules.append(k) } }
        schedules.sort()
        var age = schedules.enumerated().map { ChartSeries(name: $1, color: Self.palette[$0 % Self.palette.count], points: []) }

        var previous: PipelineSample?
        for s in samples {
            let x = Double(s.at) / 1e6
            // Rates need two readings of the budget's totals; a drop means the key was reset.
            var rate: (use: Double?, req: Double?, thr: Double?) = (nil, nil, nil)
            if s.reachable, let b = s.budget, let p = previous, p.reachable, let a = p.budget, s.at > p.at {
                let dt = Double(s.at - p.at) / 1e6
                let dReq = b.totals.requests - a.totals.requests, dTok = b.totals.tokens - a.totals.tokens
                let dThr = b.totals.throttled - a.totals.throttled
                if dReq >= 0, dTok >= 0, dThr >= 0 {
                    rate.req = Double(dReq) / dt
                    rate.thr = Double(dThr) / dt
                    if let tps = b.tokensPerSecond, tps > 0 { rate.use = Double(dTok) / dt / tps * 100 }
                    requestsTotal += dReq
                    throttledTotal += dThr
                }
            }
            use.points.append((x, rate.use))
            req.points.append((x, rate.req))
            thr.points.append((x, rate.thr))
            wp.points.append((x, s.reachable ? Double(s.workPending) : nil))
            wf.points.append((x, s.reachable ? Double(s.workInFlight) : nil))
            lp.points.append((x, s.reachable ? s.writerPending.map(Double.init) : nil))
            lf.points.append((x, s.reachable ? s.writerInFlight.map(Double.init) : nil))
            for i in age.indices {
                let start = s.reachable ? s.cycleStarts[age[i].name] : nil
                age[i].points.append((x, start.map { max(0, Double(s.at - $0) / 1e6) }))
            }
            previous = s
        }
        budgetUse = use; requests = req; throttled = thr
        workPending = wp; workInFlight = wf; writerPending = lp; writerInFlight = lf
        dataAge = age
        requestsInWindow = requestsTotal
        throttledInWindow = throttledTotal
        hasSharedBudget = samples.contains { $0.budget != nil }
    }
}

/// A small line chart as inline SVG: a y axis from 0 to a round maximum with three grid
/// lines, the x axis spanning the samples (labelled with how long ago it starts), one
/// polyline per series (broken at gaps). Each series carries its figures in `data-*`
/// attributes (count, last, max) for tests and for people reading the source.
struct SparkChart: Sendable {
    enum Unit: Sendable { case percent, perSecond, count, age }

    var id: String
    var unit: Unit
    var series: [ChartSeries]
    /// x range (seconds since the epoch).
    var from: Double
    var to: Double

    /// Drawn at about its own size in a tile (≈ 240 px wide), so 9.5 px labels stay legible.
    static let width = 240.0, height = 100.0
    static let plot = (left: 32.0, right: 236.0, top: 6.0, bottom: 80.0)

    /// The largest y value shown, rounded up to 1, 2, 2.5 or 5 × 10ⁿ (a percentage to 100 at least).
    var yMax: Double {
        let m = series.flatMap(\.values).max() ?? 0
        switch unit {
        case .percent: return max(100, Self.roundUp(m))
        case .age: return max(60, Self.roundUp(m))
        default: return max(1, Self.roundUp(m))
        }
    }

    static func roundUp(_ v: Double) -> Double {
        guard v > 0 else { return 0 }
        let magnitude = pow(10, floor(log10(v)))
        for step in [1.0, 2, 2.5, 5, 10] where step * magnitude >= v * 0.9999 { return step * magnitude }
        return 10 * magnitude
    }

    static func format(_ v: Double, _ unit: Unit) -> String {
        switch unit {
        case .percent: return "\(Int(v.rounded()))%"
        case .age: return duration(v)
        case .perSecond, .count:
            if v >= 10_000 { return String(format: "%.0fk", v / 1000) }
            // Whole numbers as such; a half-way grid line (12.5) or a slow rate (0.4) with a decimal.
            return v == v.rounded() || v >= 100 ? "\(Int(v.rounded()))" : String(format: "%.1f", v)
        }
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 120 { return "\(Int(seconds.rounded()))s" }
        if seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
        if seconds < 7200 { return "\(Int((seconds / 60).rounded()))m" }
        return String(format: "%.1fh", seconds / 3600)
    }

    func x(_ t: Double) -> Double {
        let span = max(1, to - from)
        return Self.plot.left + (t - from) / span * (Self.plot.right - Self.plot.left)
    }

    func y(_ v: Double) -> Double {
        let top = yMax
        return Self.plot.bottom - min(v, top) / max(top, 1e-9) * (Self.plot.bottom - Self.plot.top)
    }

    func svg(label: String) -> String {
        let p = Self.plot
        var out = "<svg id=\"\(id)\" class=\"chart\" viewBox=\"0 0 \(Int(Self.width)) \(Int(Self.height))\" role=\"img\" aria-label=\"\(HTML.escape(label))\">"
        out += "<title>\(HTML.escape(label))</title>"
        let top = yMax
        for (i, v) in [0, top / 2, top].enumerated() {
            let yy = Self.f(y(v))
            out += "<line class=\"grid\" x1=\"\(Self.f(p.left))\" x2=\"\(Self.f(p.right))\" y1=\"\(yy)\" y2=\"\(yy)\"\(i == 0 ? " stroke-width=\"1\"" : "")/>"
            out += "<text class=\"ylab\" x=\"\(Self.f(p.left - 4))\" y=\"\(Self.f(y(v) + 3))\" text-anchor=\"end\">\(Self.format(v, unit))</text>"
        }
        out += "<text class=\"xlab\" x=\"\(Self.f(p.left))\" y=\"\(Self.f(Self.height - 4))\">−\(Self.duration(to - from))</text>"
        out += "<text class=\"xlab\" x=\"\(Self.f(p.right))\" y=\"\(Self.f(Self.height - 4))\" text-anchor=\"end\">now</text>"
        for s in series {
            let values = s.values
            out += "<g class=\"series\" data-name=\"\(HTML.escape(s.name))\" data-count=\"\(values.count)\""
            out += " data-last=\"\(s.last.map { Self.f($0) } ?? "")\" data-max=\"\(values.max().map { Self.f($0) } ?? "")\">"
            var segment: [String] = []
            func flush() {
                if segment.count == 1 {
                    let xy = segment[0].split(separator: ",")
                    out += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"1.6\" fill=\"\(s.color)\"/>"
                } else if segment.count > 1 {
                    out += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.6\" stroke-linejoin=\"round\" points=\"\(segment.joined(separator: " "))\"/>"
                }
                segment = []
            }
            for point in s.points {
                guard let v = point.y else { flush(); continue }
                segment.append("\(Self.f(x(point.x))),\(Self.f(y(v)))")
            }
            flush()
            out += "</g>"
        }
        return out + "</svg>"
    }

    /// Coordinates with one decimal: small pages, exact enough.
    static func f(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
}

import Foundation
import Logging
import DaemonKit
import KalshiModels
import NATSClient
import Pipeline
import RateBudget
import SSMDCore
import SyncCore
import WireContract

/// The admin dashboard at `/`: one server-rendered HTML page (no scripts, no build step).
/// Database sections come from the read-only pool; the pipeline sections (last cycle per
/// schedule, rate budget, queue depth) from NATS, shown as "unavailable" when it is down; the
/// charts over time from the samples ``PipelineSampler`` keeps in memory (``PipelineHistory``).
struct Dashboard: Sendable {
    let pool: ReadOnlyPool
    let nats: NATSOptions
    let history: PipelineHistory
    let logger: Logger

    static let closedStatuses = MarketStatus.closedPhase.map(\.rawValue)
    static let settledStatuses = [MarketStatus.finalized.rawValue]

    struct Breakdown {
        var name: String
        var total = 0, games = 0, active = 0, open = 0, closed = 0, settled = 0
    }

    /// Series per category or per tag, with their markets open / closed / settled (markets
    /// the exchange no longer lists are not counted).
    func breakdown(byTag: Bool) async throws -> [Breakdown] {
        let key = byTag ? "t.tag" : "s.category"
        let from = byTag ? "series s CROSS JOIN LATERAL unnest(s.tags) AS t(tag)" : "series s"
        let r = try await pool.query("""
            WITH m AS (
                SELECT series_ticker,
                       count(*) FILTER (WHERE status = 'active') AS open,
                       count(*) FILTER (WHERE status = ANY($1::text[])) AS closed,
                       count(*) FILTER (WHERE status = ANY($2::text[])) AS settled
                FROM markets WHERE gone_at IS NULL GROUP BY series_ticker)
            SELECT \(key) AS name, count(*) AS total, count(*) FILTER (WHERE s.is_game) AS games,
                   count(*) FILTER (WHERE s.active) AS active,
                   coalesce(sum(m.open), 0) AS open, coalesce(sum(m.closed), 0) AS closed, coalesce(sum(m.settled), 0) AS settled
            FROM \(from) LEFT JOIN m ON m.series_ticker = s.ticker
            GROUP BY \(key) ORDER BY \(key)
            """, [.array(Self.closedStatuses), .array(Self.settledStatuses)])
        return (0..<r.rowCount).map { i in
            Breakdown(name: r[i, "name"] ?? "", total: r.int(i, "total"), games: r.int(i, "games"), active: r.int(i, "active"),
                      open: r.int(i, "open"), closed: r.int(i, "closed"), settled: r.int(i, "settled"))
        }
    }

    // MARK: Pipeline state from NATS

    struct PipelineState: Sendable {
        var cycles: [CycleReport] = []
        var budgets: [(key: String, record: BudgetRecord)] = []
        var work: [(consumer: String, pending: UInt64, ackPending: Int64)] = []
        var writer: (pending: UInt64, ackPending: Int64)?
        /// The series-fetchers' leader lease (nil: none written yet).
        var leader: LeaderLease?
    }

    /// NATS settings for the dashboard's connections: fail fast when the server is away (the
    /// page says so) rather than wait for it.
    var dashboardNATSOptions: NATSOptions {
        var options = nats
        options.retryOnFailedConnect = false
        options.connectTimeout = .seconds(2)
        options.maxReconnectAttempts = 0
        return options
    }

    /// The pipeline's state now, on a connection of its own (one page view).
    func pipelineState() async -> Result<PipelineState, Error> {
        do {
            let connection = try await NATSConnection.connect(options: dashboardNATSOptions, logger: logger)
            defer { connection.close() }
            return .success(try await pipelineState(js: try connection.jetStream()))
        } catch {
            return .failure(error)
        }
    }

    func pipelineState(js: JetStream) async throws -> PipelineState {
        var out = PipelineState()
        if let kv = try? await js.keyValue(bucket: Topology.stateBucket) {
            let prefix = "$KV.\(Topology.stateBucket)."
            let info = try await js.streamInfo(name: "KV_\(Topology.stateBucket)", subjectsFilter: prefix + "cycle.>")
            for subject in info.subjects.keys.sorted() {
                let key = String(subject.dropFirst(prefix.count))
                if let e = try await kv.get(key), let r = try? JSONDecoder().decode(CycleReport.self, from: Data(e.value)) {
                    out.cycles.append(r)
                }
            }
            if let e = try await kv.get(LeaderElection.key) {
                out.leader = try? JSONDecoder().decode(LeaderLease.self, from: Data(e.value))
            }
        }
        if let kv = try? await js.keyValue(bucket: Topology.budgetBucket) {
            let prefix = "$KV.\(Topology.budgetBucket)."
            let info = try await js.streamInfo(name: "KV_\(Topology.budgetBucket)", subjectsFilter: prefix + ">")
            for subject in info.subjects.keys.sorted() {
                let key = String(subject.dropFirst(prefix.count))
                if let e = try await kv.get(key), let r = try? JSONDecoder().decode(BudgetRecord.self, from: Data(e.value)) {
                    out.budgets.append((key, r))
                }
            }
            // The global budget first, then the pools.
            out.budgets.sort { ($0.key == "read" ? 0 : 1, $0.key) < ($1.key == "read" ? 0 : 1, $1.key) }
        }
        for name in (try? await js.consumerNames(stream: Streams.work)) ?? [] {
            if let i = try? await js.consumerInfo(stream: Streams.work, name: name) {
                out.work.append((name, i.numPending, i.numAckPending))
            }
        }
        if let i = try? await js.consumerInfo(stream: Streams.secmaster, name: Streams.writerConsumer) {
            out.writer = (i.numPending, i.numAckPending)
        }
        return out
    }

    // MARK: Rendering

    func render(series: String?) async -> String {
        async let pipeline = pipelineState()
        var body = seriesFilter(series)
        // What changed over time first, then the pipeline's health now (it fits one row on a
        // laptop), then the security master.
        body += chartsSection(history.samples(), now: .now())
        body += pipelineSections(await pipeline)
        do {
            let categories = try await breakdown(byTag: false)
            let tags = try await breakdown(byTag: true)
            if let series { body += try await seriesMarkets(series) }
            body += "<div class=\"grid\">"
            body += section("Series by category", table(categories, first: "Category", id: "by-category"))
            body += section("Series by tag", table(tags, first: "Tag", id: "by-tag"))
            body += "</div>"
        } catch {
            body += "<section class=\"card\"><h2>Security master</h2><p class=\"bad\">database unavailable: \(HTML.escape("\(error)"))</p></section>"
        }
        return page(body)
    }

    func seriesFilter(_ series: String?) -> String {
        """
        <form class="filter" method="get" action="/">
          <label for="series">Series</label>
          <input id="series" name="series" placeholder="e.g. KXNBAGAME" value="\(HTML.escape(series ?? ""))">
          <button type="submit">Show markets</button>
          \(series == nil ? "" : "<a href=\"/\">clear</a>")
        </form>
        """
    }

    func seriesMarkets(_ ticker: String) async throws -> String {
        let s = try await pool.query("SELECT ticker, title, category, array_to_string(tags, ', ') AS tags, is_game, active FROM series WHERE ticker = $1", [.text(ticker)])
        guard s.rowCount == 1 else {
            return section("Series \(HTML.escape(ticker))", "<p class=\"bad\">no such series</p>", id: "series-markets")
        }
        let limit = 500
        let m = try await pool.query("""
            SELECT ticker, status, title, yes_bid_dollars::text AS yes_bid, yes_ask_dollars::text AS yes_ask,
                   last_price_dollars::text AS last_price, volume_fp::text AS volume, close_time
            FROM markets WHERE series_ticker = $1 ORDER BY close_time DESC NULLS LAST, ticker LIMIT $2
            """, [.text(ticker), .int(limit + 1)])
        let total = try await pool.query("SELECT count(*) AS n FROM markets WHERE series_ticker = $1", [.text(ticker)])
        var h = "<p>\(HTML.escape(s[0, "title"] ?? "")) · \(HTML.escape(s[0, "category"] ?? "")) · tags: \(HTML.escape(s[0, "tags"] ?? "—"))"
        h += s[0, "is_game"] == "t" ? " · game" : ""
        h += s[0, "active"] == "t" ? "" : " · <span class=\"bad\">inactive</span>"
        h += " · \(total.int(0, "n")) markets</p>"
        h += "<table id=\"series-markets-table\"><thead><tr><th>Market</th><th>Status</th><th>Title</th><th class=\"n\">Yes bid</th><th class=\"n\">Yes ask</th><th class=\"n\">Last</th><th class=\"n\">Volume</th><th>Close</th></tr></thead><tbody>"
        for i in 0..<min(m.rowCount, limit) {
            let close = m[i, "close_time"].flatMap { Timestamp(postgresText: $0)?.iso8601 } ?? ""
            h += "<tr><td class=\"mono\">\(HTML.escape(m[i, "ticker"] ?? ""))</td><td><span class=\"st st-\(HTML.escape(m[i, "status"] ?? ""))\">\(HTML.escape(m[i, "status"] ?? ""))</span></td>"
            h += "<td>\(HTML.escape(m[i, "title"] ?? ""))</td>"
            for c in ["yes_bid", "yes_ask", "last_price", "volume"] { h += "<td class=\"n\">\(HTML.escape(m[i, c] ?? "—"))</td>" }
            h += "<td class=\"mono\">\(HTML.escape(String(close.prefix(16)).replacingOccurrences(of: "T", with: " ")))</td></tr>"
        }
        h += "</tbody></table>"
        if m.rowCount > limit { h += "<p class=\"muted\">first \(limit) shown; all of them at /v1/markets?series=\(HTML.escape(HTML.queryValue(ticker)))</p>" }
        return section("Markets of \(HTML.escape(ticker))", h, id: "series-markets")
    }

    func table(_ rows: [Breakdown], first: String, id: String) -> String {
        var h = "<table id=\"\(id)\"><thead><tr><th>\(first)</th><th class=\"n\">Series</th><th class=\"n\">Games</th><th class=\"n\">Active</th><th class=\"n\">Open</th><th class=\"n\">Closed</th><th class=\"n\">Settled</th></tr></thead><tbody>"
        var t = Breakdown(name: "")
        for r in rows {
            h += "<tr data-name=\"\(HTML.escape(r.name))\"><td>\(HTML.escape(r.name))</td><td class=\"n\">\(r.total)</td><td class=\"n\">\(r.games)</td><td class=\"n\">\(r.active)</td><td class=\"n\">\(r.open)</td><td class=\"n\">\(r.closed)</td><td class=\"n\">\(r.settled)</td></tr>"
            t.total += r.total; t.games += r.games; t.active += r.active; t.open += r.open; t.closed += r.closed; t.settled += r.settled
        }
        if rows.isEmpty { h += "<tr><td colspan=\"7\" class=\"muted\">no series yet</td></tr>" }
        h += "</tbody>"
        if first == "Category" {
            h += "<tfoot><tr><td>All</td><td class=\"n\">\(t.total)</td><td class=\"n\">\(t.games)</td><td class=\"n\">\(t.active)</td><td class=\"n\">\(t.open)</td><td class=\"n\">\(t.closed)</td><td class=\"n\">\(t.settled)</td></tr></tfoot>"
        }
        return h + "</table>"
    }

    func pipelineSections(_ state: Result<PipelineState, Error>) -> String {
        guard case .success(let p) = state else {
            if case .failure(let e) = state { logger.debug("dashboard: NATS unavailable", metadata: ["error": "\(e)"]) }
            return section("Pipeline", "<p class=\"bad\" id=\"nats-unavailable\">NATS unavailable: cycles, rate budget and queues cannot be shown.</p>", id: "pipeline")
        }
        let now = Timestamp.now()
        var h = "<div class=\"grid3\">"
        // Last completed cycle per schedule.
        var c = "<table id=\"cycles\"><thead><tr><th>Schedule</th><th>Finished</th><th class=\"n\">Took</th><th class=\"n\">Series</th><th class=\"n\" title=\"work items: full / delta / incremental\">Work</th><th class=\"n\">Req.</th><th class=\"n\">Failed</th></tr></thead><tbody>"
        for r in p.cycles {
            let took = Double(r.finishedAt.microsecondsSinceEpoch - r.startedAt.microsecondsSinceEpoch) / 1e6
            let ago = Double(now.microsecondsSinceEpoch - r.finishedAt.microsecondsSinceEpoch) / 1e6
            c += "<tr><td>\(HTML.escape(r.schedule))</td><td title=\"\(HTML.escape(r.finishedAt.iso8601))\">\(Self.ago(ago))</td><td class=\"n\">\(String(format: "%.1f s", took))</td>"
            c += "<td class=\"n\">\(r.seriesTracked)</td><td class=\"n\">\(r.fullItems) / \(r.deltaItems) / \(r.incrementalItems)</td>"
            c += "<td class=\"n\(r.feedFailed ? " bad" : "")\"\(r.feedFailed ? " title=\"change feed failed\"" : "")>\(r.requests)</td>"
            c += "<td class=\"n\(r.categoriesFailed > 0 ? " bad" : "")\">\(r.categoriesFailed) / \(r.categories)</td></tr>"
        }
        if p.cycles.isEmpty { c += "<tr><td colspan=\"7\" class=\"muted\">no cycle completed yet</td></tr>" }
        c += "</tbody></table>"
        c += leaderLine(p.leader, now: now, samples: history.samples())
        h += section("Last completed cycle per schedule", c, id: "cycles-section")

        // Rate budget.
        var b = "<table id=\"budget\"><thead><tr><th>Key</th><th class=\"n\">Throttle</th><th>429 cooldown</th><th class=\"n\">Booked ahead</th></tr></thead><tbody>"
        for (key, record) in p.budgets {
            let s = record.state
            let cooldown = Double(s.cooldownUntil - now.microsecondsSinceEpoch) / 1e6
            let ahead = max(0, Double(s.tat - now.microsecondsSinceEpoch) / 1e6)
            let factor = s.factor >= 1 ? "×1.00" : String(format: "×%.2f", s.factor)
            b += "<tr><td class=\"mono\">\(HTML.escape(key))</td><td class=\"n\(s.factor < 1 ? " warn" : "")\">\(factor)</td>"
            b += "<td\(cooldown > 0 ? " class=\"bad\"" : "")>\(cooldown > 0 ? String(format: "%.1f s left", cooldown) : "none")</td>"
            b += "<td class=\"n\">\(String(format: "%.2f s", ahead))</td></tr>"
        }
        if p.budgets.isEmpty { b += "<tr><td colspan=\"4\" class=\"muted\">no shared budget in use</td></tr>" }
        b += "</tbody></table>"
        h += section("Rate budget", b, id: "budget-section")

        // Queue depth: the work consumers (one per tag pool) summed, the busy ones listed.
        var q = "<table id=\"queues\"><thead><tr><th>Consumer</th><th class=\"n\">Pending</th><th class=\"n\">In flight</th></tr></thead><tbody>"
        let pending = p.work.reduce(UInt64(0)) { $0 + $1.pending }, inFlight = p.work.reduce(Int64(0)) { $0 + $1.ackPending }
        q += "<tr><td>all work queues (\(p.work.count) pools)</td><td class=\"n\">\(pending)</td><td class=\"n\">\(inFlight)</td></tr>"
        let busy = p.work.filter { $0.pending > 0 || $0.ackPending > 0 }.sorted { Int64($0.pending) + $0.ackPending > Int64($1.pending) + $1.ackPending }
        for w in busy.prefix(15) {
            q += "<tr><td class=\"mono\">\(HTML.escape(w.consumer))</td><td class=\"n\">\(w.pending)</td><td class=\"n\">\(w.ackPending)</td></tr>"
        }
        if busy.count > 15 { q += "<tr><td colspan=\"3\" class=\"muted\">… \(busy.count - 15) more busy pools</td></tr>" }
        if let w = p.writer {
            q += "<tr class=\"sep\"><td>db-writer lag</td><td class=\"n\">\(w.pending)</td><td class=\"n\">\(w.ackPending)</td></tr>"
        } else {
            q += "<tr class=\"sep\"><td>db-writer</td><td colspan=\"2\" class=\"muted\">no consumer yet</td></tr>"
        }
        q += "</tbody></table>"
        h += section("Queue depth", q, id: "queues-section")
        return h + "</div>"
    }

    /// Which series-fetcher runs the schedules, whether its lease is live, and the leadership
    /// changes this data-api has seen in its history (a standby taking over shows here).
    func leaderLine(_ lease: LeaderLease?, now: Timestamp, samples: [PipelineSample]) -> String {
        guard let lease else {
            return "<p id=\"leader\" class=\"muted\">series-fetcher leader: no lease written yet (no series-fetcher has started)</p>"
        }
        let left = Double(lease.expiresAt.microsecondsSinceEpoch - now.microsecondsSinceEpoch) / 1e6
        var h = "<p id=\"leader\">series-fetcher leader: <b class=\"mono\" id=\"leader-holder\">\(HTML.escape(lease.holder))</b> · "
        if left > 0 {
            h += String(format: "lease %.1f s left", left)
        } else {
            h += "<span class=\"bad\">lease lapsed \(Self.ago(-left)): no leader running the schedules</span>"
        }
        let changes = PipelineSample.leaderChanges(samples)
        if let last = changes.last {
            let ago = Double(now.microsecondsSinceEpoch - last.at) / 1e6
            h += " · <span id=\"leader-changes\">\(changes.count) change\(changes.count == 1 ? "" : "s") seen, last \(Self.ago(ago)) (from \(HTML.escape(last.from)))</span>"
        }
        return h + "</p>"
    }

    /// The pipeline over time: five small charts drawn from the sampler's history.
    func chartsSection(_ samples: [PipelineSample], now: Timestamp) -> String {
        let every = SparkChart.duration(history.interval.seconds), window = SparkChart.duration(history.window.seconds)
        let note = "<p class=\"muted note\">Sampled from NATS every \(every) by this data-api and kept in its memory (the last \(window) at most; a restart starts afresh). "
            + "Budget use, requests and 429s: the shared rate budget's totals in NATS KV, to which every fetcher replica adds. Queues: the JetStream consumers. "
            + "Data age: time since the start of each schedule's last completed cycle (its data is no older once the work queue is empty).</p>"
        guard let first = samples.first else {
            return section("Pipeline over time", "<p class=\"muted\" id=\"charts-empty\">collecting the first sample…</p>" + note, id: "charts")
        }
        let c = DashboardCharts(samples: samples)
        let to = Double(now.microsecondsSinceEpoch) / 1e6
        let from = min(Double(first.at) / 1e6, to - 60)
        func tile(_ id: String, _ title: String, _ headline: String, _ unit: SparkChart.Unit, _ series: [ChartSeries], note: String? = nil) -> String {
            let chart = SparkChart(id: "chart-\(id)", unit: unit, series: series, from: from, to: to)
            var h = "<figure class=\"tile\" id=\"tile-\(id)\"><figcaption><span>\(HTML.escape(title))</span><b>\(HTML.escape(headline))</b></figcaption>"
            h += chart.svg(label: title)
            h += "<div class=\"legend\">"
            for s in series {
                h += "<span><i style=\"background:\(s.color)\"></i>\(HTML.escape(s.name)) \(s.last.map { SparkChart.format($0, unit) } ?? "–")</span>"
            }
            if let note { h += "<span class=\"muted\">\(HTML.escape(note))</span>" }
            return h + "</div></figure>"
        }
        let use = c.budgetUse.last.map { SparkChart.format($0, .percent) } ?? "–"
        var h = "<div class=\"charts\">"
        h += tile("budget", "Rate budget use", use, .percent, [c.budgetUse],
                  note: c.hasSharedBudget ? nil : "no shared budget in use (local rate scope, or no fetcher yet)")
        h += tile("requests", "Exchange requests/s and 429s", "\(c.requestsInWindow) req · \(c.throttledInWindow)×429",
                  .perSecond, [c.requests, c.throttled])
        let queued = (c.workPending.last ?? 0) + (c.workInFlight.last ?? 0)
        h += tile("queue", "Work queue depth", "\(Int(queued))", .count, [c.workPending, c.workInFlight])
        let lag = (c.writerPending.last ?? 0) + (c.writerInFlight.last ?? 0)
        h += tile("writer-lag", "Writer lag (messages)", "\(Int(lag))", .count, [c.writerPending, c.writerInFlight])
        let oldest = c.dataAge.compactMap(\.last).max().map { SparkChart.duration($0) } ?? "–"
        h += tile("data-age", "Age of newest data per schedule", oldest, .age, c.dataAge,
                  note: c.dataAge.isEmpty ? "no cycle completed yet" : nil)
        h += "</div>"
        return section("Pipeline over time", h + note, id: "charts")
    }

    static func ago(_ seconds: Double) -> String {
        if seconds < 60 { return "\(max(0, Int(seconds))) s ago" }
        if seconds < 3600 { return "\(Int(seconds / 60)) min ago" }
        if seconds < 86_400 { return String(format: "%.1f h ago", seconds / 3600) }
        return String(format: "%.1f days ago", seconds / 86_400)
    }

    func section(_ title: String, _ content: String, id: String? = nil) -> String {
        "<section class=\"card\"\(id.map { " id=\"\($0)\"" } ?? "")><h2>\(title)</h2>\(content)</section>"
    }

    func page(_ body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>ssmd — security master</title>
        <style>
        :root { --fg:#1d2430; --muted:#6b7585; --line:#e3e7ee; --bg:#f5f7fa; --card:#fff; --accent:#2f5fd0; }
        * { box-sizing: border-box; }
        body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; color:var(--fg); background:var(--bg); }
        header { background:#1d2430; color:#fff; padding:12px 24px; display:flex; align-items:baseline; gap:16px; }
        header h1 { font-size:18px; margin:0; } header span { color:#aab4c4; font-size:13px; }
        main { padding:16px 24px; max-width:1500px; }
        .grid3 { display:grid; grid-template-columns:repeat(auto-fit,minmax(400px,1fr)); gap:16px; align-items:start; }
        .grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(560px,1fr)); gap:16px; align-items:start; }
        .card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 16px; margin-bottom:16px; overflow-x:auto; }
        h2 { font-size:15px; margin:0 0 8px; }
        table { border-collapse:collapse; width:100%; }
        th, td { padding:4px 8px; border-bottom:1px solid var(--line); text-align:left; white-space:nowrap; }
        th { font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
        td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; }
        tbody tr:hover { background:#f0f4fb; }
        tfoot td { font-weight:600; border-top:2px solid var(--line); }
        tr.sep td { border-top:2px solid var(--line); }
        .mono { font-family:ui-monospace,"DejaVu Sans Mono",monospace; font-size:12.5px; }
        .muted { color:var(--muted); } .bad { color:#b3261e; font-weight:600; } .warn { color:#a15c00; font-weight:600; }
        .filter { display:flex; gap:8px; align-items:center; margin-bottom:16px; }
        .filter input { font:inherit; padding:6px 8px; border:1px solid #c5ccd8; border-radius:6px; width:280px; }
        .filter button { font:inherit; padding:6px 12px; border:0; border-radius:6px; background:var(--accent); color:#fff; cursor:pointer; }
        .st { padding:1px 6px; border-radius:4px; background:#eef1f5; font-size:12px; }
        .st-active { background:#e3f4e8; color:#1d6b35; } .st-finalized { background:#e8eaf6; color:#34418f; }
        .st-closed, .st-determined, .st-disputed, .st-amended { background:#fdf1e1; color:#8a4b00; }
        .charts { display:grid; grid-template-columns:repeat(auto-fit,minmax(210px,1fr)); gap:12px 20px; }
        .tile { margin:0; min-width:0; }
        .tile figcaption { display:flex; flex-direction:column; font-size:12.5px; color:var(--muted); white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
        .tile figcaption b { color:var(--fg); font-size:17px; line-height:1.3; font-variant-numeric:tabular-nums; }
        svg.chart { display:block; width:100%; height:auto; overflow:visible; }
        svg.chart .grid { stroke:var(--line); stroke-width:.6; }
        svg.chart text { font-size:9.5px; fill:var(--muted); font-family:inherit; }
        .legend { display:flex; flex-wrap:wrap; gap:2px 12px; font-size:11.5px; color:var(--muted); font-variant-numeric:tabular-nums; }
        .legend i { display:inline-block; width:10px; height:3px; border-radius:2px; margin-right:4px; vertical-align:middle; }
        .note { font-size:12px; margin:10px 0 0; }
        </style></head>
        <body><header><h1>ssmd security master</h1><span>read-only · rendered \(HTML.escape(Timestamp.now().iso8601.prefix(19).replacingOccurrences(of: "T", with: " "))) UTC</span></header>
        <main>
        \(body)
        <p class="muted">Open = markets <code>active</code>; closed = <code>closed</code>, <code>determined</code>, <code>disputed</code>, <code>amended</code>; settled = <code>finalized</code>. JSON API: <a href="/openapi.yaml">/openapi.yaml</a>.</p>
        </main></body></html>
        """
    }
}

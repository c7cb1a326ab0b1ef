import Foundation
import Testing
import TestSupport
import CurlHTTP
import SSMDCore

/// A real Prometheus (Debian's 2.42) scrapes every daemon while the pipeline runs a cycle, and
/// everything docs/metrics.md lists is there: from each program it names, with its type and
/// labels, and every value parses. What is exposed and what is documented are the same set.
@Suite(.serialized, .tags(.processes), .processSlotAlone) struct PrometheusScrapeTests {
    /// A daemon's ops endpoint, from its "listening" log line.
    static func opsAddress(_ p: ChildProcess) -> String? {
        guard let line = p.output.split(separator: "\n").first(where: { $0.contains("metrics and health endpoints listening") }),
              let r = line.range(of: "url=http://") else { return nil }
        return String(line[r.upperBound...].prefix { $0 != " " && $0 != "\"" })
    }

    @Test func everyDocumentedMetricReachesARealPrometheus() async throws {
        let documented = try DocumentedMetric.load()
        #expect(documented.count >= 40, "docs/metrics.md lists \(documented.count) metrics")
        let byName = Dictionary(documented.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byName.count == documented.count, "a metric is listed twice")

        // A frozen clock: after the cycle nothing changes, so the figures hold still between
        // the queries below (the shared feed still runs, and finds nothing).
        let h = try await PipelineHarness(name: "prometheus", simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        // The writer reads its consumer's lag every second; series-fetcher stays up between cycles.
        let writer = try h.start("db-writer", ["--batch-max-age", "100ms", "--metrics-interval", "1s"])
        let fetcher = try h.start("market-fetcher")
        let (api, apiURL) = try await h.startDataAPI(["--dashboard-sample-interval", "1s"])
        // Per-series full syncs (no listing), so series work items are counted below.
        let series = try h.start("series-fetcher", ["--interval", "60s", "--listing-min-series", "0"])
        let daemons = [("db-writer", writer), ("market-fetcher", fetcher), ("series-fetcher", series)]
        #expect(await eventually(timeout: .seconds(30)) { daemons.allSatisfy { Self.opsAddress($0.1) != nil } }, "\(h.logs())")
        var targets = try daemons.map { job, p in
            PrometheusTestServer.Target(job: job, address: try #require(Self.opsAddress(p)))
        }
        targets.append(.init(job: "data-api", address: String(apiURL.dropFirst("http://".count))))
        let prometheus = try await PrometheusTestServer(targets: targets, directory: h.directory.url)
        defer { prometheus.process.abandon() }

        // The cycle runs while Prometheus scrapes every second.
        #expect(try await h.waitUntilDrained(timeout: .seconds(120)), "did not drain:\n\(h.logs())")
        for path in ["/", "/v1/series?limit=2", "/v1/markets?limit=1", "/no-such-route"] { _ = try await APIClient.get(apiURL + path) }
        // Scrapes after the cycle: its counters, the writer's lag, data-api's routes.
        let settled = await eventually(timeout: .seconds(30), every: .seconds(1)) {
            let synced = (try? await prometheus.query("ssmd_series_synced_total"))?.first?.value ?? 0
            let complete = (try? await prometheus.query("ssmd_cycles_total{outcome=\"complete\"}"))?.first?.value ?? 0
            let fed = (try? await prometheus.query("ssmd_feed_runs_total{outcome=\"complete\"}"))?.first?.value ?? 0
            let lag = (try? await prometheus.query("ssmd_writer_consumer_pending"))?.count ?? 0
            let routes = (try? await prometheus.query("ssmd_api_requests_total{route=\"other\",status=\"404\"}"))?.count ?? 0
            return synced > 0 && complete >= 1 && fed >= 1 && lag == 1 && routes == 1
        }
        #expect(settled, "Prometheus never saw the finished cycle:\n\(h.logs())")

        // Every target is up and its last scrape parsed.
        let health = try await prometheus.targets()
        #expect(Set(health.map(\.job)) == ["db-writer", "market-fetcher", "series-fetcher", "data-api"])
        for t in health { #expect(t.health == "up" && t.lastError.isEmpty, "\(t.job): \(t.health) \(t.lastError)") }

        let metadata = try await prometheus.metadata()
        let internalLabels: Set<String> = ["__name__", "job", "instance", "le"]
        // lifecycle-listener needs an exchange API key and a WebSocket: it is not part of this
        // pipeline, and LifecycleListenerTests reads its /metrics instead.
        let scrapedJobs = Set(health.map(\.job))
        for m in documented {
            let programs = Set(m.programs).intersection(scrapedJobs)
            guard !programs.isEmpty else { continue }
            // The type Prometheus read from the # TYPE line, and a help text.
            let scrapedType = metadata[m.name]?.type ?? "nothing", help = metadata[m.name]?.help ?? ""
            #expect(scrapedType == m.type, "\(m.name): documented \(m.type), scraped \(scrapedType)")
            #expect(help.count > 10, "\(m.name) has no HELP")
            let series = m.type == "histogram" ? [m.name + "_bucket", m.name + "_sum", m.name + "_count"] : [m.name]
            for s in series {
                let samples = try await prometheus.query(s)
                let jobs = Set(samples.compactMap { $0.labels["job"] })
                #expect(jobs.isSuperset(of: programs), "\(s): documented from \(m.programs), scraped from \(jobs.sorted())")
                #expect(jobs.isSubset(of: m.programs), "\(s) also comes from \(jobs.subtracting(m.programs).sorted()), not documented")
                for sample in samples {
                    let labels = Set(sample.labels.keys).subtracting(internalLabels)
                    #expect(labels == Set(m.labels), "\(s): labels \(labels.sorted()), documented \(m.labels)")
                    #expect(sample.value.isFinite || s.hasSuffix("_bucket"), "\(s) = \(sample.value)")
                }
            }
            if m.type == "histogram" { try await Self.checkHistogram(m.name, prometheus) }
            if m.type == "counter" { #expect(m.name.hasSuffix("_total"), "\(m.name): a counter's name ends in _total") }
        }

        // Nothing undocumented: every ssmd_ and process_ family scraped is in the table.
        let scraped = Set(try await prometheus.query("group by (__name__) ({__name__=~\"ssmd_.+|process_.+\"})").compactMap { $0.labels["__name__"] })
        for name in scraped {
            var family = name
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) && byName[String(name.dropLast(suffix.count))]?.type == "histogram" {
                family = String(name.dropLast(suffix.count))
            }
            #expect(byName[family] != nil, "\(name) is exposed but not in docs/metrics.md")
        }

        // What the figures say: exchange requests by endpoint and status, the build, the cycle.
        let requests = try await prometheus.query("sum by (endpoint, status) (ssmd_exchange_requests_total)")
        let endpoints = Set(requests.compactMap { $0.labels["endpoint"] })
        #expect(endpoints.isSuperset(of: ["/search/tags_by_categories", "/search/filters_by_sport", "/series", "/events"]), "\(endpoints)")
        #expect(requests.allSatisfy { $0.labels["status"] == "200" }, "the simulator answers 200 here: \(requests.map(\.labels))")
        let simulator = try await h.simulatorStatusCounts()
        let counted = requests.reduce(0) { $0 + $1.value }
        #expect(counted > 0 && counted <= Double(simulator.values.reduce(0, +)), "requests counted \(counted), simulator saw \(simulator)")
        for sample in try await prometheus.query("ssmd_build_info") {
            #expect(sample.value == 1 && sample.labels["program"] == sample.labels["job"] && sample.labels["version"] == SSMD.version, "\(sample.labels)")
        }
        let lastSuccess = try #require(try await prometheus.query("ssmd_cycle_last_success_timestamp_seconds{schedule=\"all\"}").first)
        #expect(abs(lastSuccess.value - Date().timeIntervalSince1970) < 300)
        // Work items come from the cycle and from the shared change feed.
        let items = (try await prometheus.query("sum(ssmd_cycle_work_items_total{schedule=\"all\"})").first?.value ?? 0)
            + (try await prometheus.query("ssmd_feed_work_items_total").first?.value ?? 0)
        let synced = try await prometheus.query("ssmd_series_synced_total").first?.value ?? 0
        #expect(synced == items, "work items published \(items), synced \(synced)")

        // Each exposition passes promtool's own checks (the format and its naming rules).
        for t in targets {
            let body = try await CurlHTTPClient().get(url: "http://\(t.address)/metrics")
            #expect(body.contentType?.hasPrefix("text/plain; version=0.0.4") == true, "\(t.job): \(body.contentType ?? "no content type")")
            let file = h.directory.url.appendingPathComponent("\(t.job).prom")
            try Data(body.body).write(to: file)
            let lint = try await runTool("sh", ["-c", "promtool check metrics < '\(file.path)'"])
            #expect(lint.status == 0, "\(t.job): promtool check metrics:\n\(lint.output)")
        }
        await prometheus.stop()
        _ = api
    }

    /// A real histogram: cumulative buckets ending in `+Inf`, which equals `_count`, per series.
    static func checkHistogram(_ name: String, _ prometheus: PrometheusTestServer) async throws {
        func key(_ labels: [String: String]) -> String {
            labels.filter { $0.key != "__name__" && $0.key != "le" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        }
        var buckets: [String: [(le: Double, count: Double)]] = [:]
        for s in try await prometheus.query(name + "_bucket") {
            let le = try #require(s.labels["le"], "\(name)_bucket without le")
            let bound = le == "+Inf" ? Double.infinity : try #require(Double(le), "\(name): le=\(le)")
            buckets[key(s.labels), default: []].append((bound, s.value))
        }
        let counts = Dictionary(try await prometheus.query(name + "_count").map { (key($0.labels), $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(!buckets.isEmpty && Set(buckets.keys) == Set(counts.keys), "\(name): bucket and count series differ")
        for (series, bs) in buckets {
            let sorted = bs.sorted { $0.le < $1.le }
            #expect(sorted.last?.le == .infinity, "\(name){\(series)} has no +Inf bucket")
            #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.count <= $1.count }, "\(name){\(series)} buckets are not cumulative")
            #expect(sorted.last?.count == counts[series], "\(name){\(series)}: +Inf bucket \(sorted.last?.count ?? -1) ≠ count \(counts[series] ?? -1)")
        }
    }
}

import Foundation
import Testing
import TestSupport
import PostgresClient
import SSMDCore
import WireContract

/// Connectors bootstrap from NATS alone: a Python (nats-py) client and `ssmd watch` get the
/// last value of every market of a tag, then the update when the simulator moves one.
@Suite(.tags(.processes), .processSlot) struct ConnectorTests {
    /// The tag a series is routed under, per docs/connectors.md: the first of its tags in
    /// the exchange's order for its category, else its first tag alphabetically, else its category.
    static func routingTag(tags: [String], category: String, order: [String: [String]]) -> String {
        let usable = tags.filter { !$0.isEmpty }
        if usable.isEmpty { return category }
        return (order[category] ?? []).first(where: usable.contains) ?? usable.sorted()[0]
    }

    @Test func pythonClientAndSSMDWatchGetLastValuesThenAnUpdate() async throws {
        let h = try await PipelineHarness(name: "connectors", simulatorArguments: DataAPITests.frozenClock)
        defer { h.teardown() }
        try await h.fillSecmaster()

        // A market that the next clock advance closes: active now, the soonest close time.
        let now = Timestamp(iso8601: try await h.simulatorJSON("/_sim/clock")["now"] as! String)!
        let active = Set(try await DataAPITests.column(h, "SELECT ticker FROM markets WHERE status = 'active'"))
        let soonest = try #require(try await h.simulatorJSONLines("/_sim/truth/markets")
            .filter { ($0["status"] as? String) == "active" && active.contains($0["ticker"] as? String ?? "") }
            .compactMap { m -> (String, String, Timestamp)? in
                guard let t = (m["close_time"] as? String).flatMap(Timestamp.init(iso8601:)), t > now else { return nil }
                return (m["ticker"] as! String, m["series_ticker"] as! String, t)
            }
            .min { $0.2 < $1.2 })
        let (ticker, series, closes) = soonest
        let advance = Int((closes.microsecondsSinceEpoch - now.microsecondsSinceEpoch) / 1_000_000) + 120

        // Its tag, from the subject it was published on; the markets PostgreSQL holds for that tag.
        let (connection, js) = try await h.jetStream()
        defer { connection.close() }
        let filter = "ssmd.market.*.\(SubjectToken.encode(series)).\(SubjectToken.encode(ticker))"
        let subject = try #require(try await js.streamInfo(name: Streams.secmaster, subjectsFilter: filter).subjects.keys.first)
        let tagToken = String(subject.split(separator: ".")[2])
        let tag = try SubjectToken.decode(tagToken)
        let order = (try await h.simulatorJSON("/trade-api/v2/search/tags_by_categories")["tags_by_categories"] as? [String: Any] ?? [:])
            .mapValues { ($0 as? [String]) ?? [] }
        let rows = try await h.query("SELECT m.ticker, m.status, s.category, s.tags FROM markets m JOIN series s ON s.ticker = m.series_ticker")
        var expected: [String: String] = [:]
        for i in 0..<rows.rowCount {
            let tags = PostgresArrayLiteral.decode(rows[i, "tags"] ?? "{}")?.compactMap { $0 } ?? []
            if Self.routingTag(tags: tags, category: rows[i, "category"]!, order: order) == tag { expected[rows[i, "ticker"]!] = rows[i, "status"]! }
        }
        #expect(expected[ticker] == "active")

        // The Python client and ssmd watch (human and --json), all from the last values.
        let wildcard = "ssmd.market.\(tagToken).>"
        let python = try ChildProcess(name: "python-connector", executable: URL(fileURLWithPath: "/usr/bin/env"),
                                      arguments: ["python3", "-u", testSourceFile("Tests/DataAPITests/connector_client.py"), h.natsURL, wildcard],
                                      logDirectory: h.directory.url)
        defer { python.abandon() }
        let quiet = ["SSMD_LOG_LEVEL": "warning"]
        let watch = try h.start("ssmd", ["watch", wildcard], environment: quiet)
        let watchJSON = try h.start("ssmd", ["watch", "--json", wildcard], environment: quiet)

        #expect(await eventually(timeout: .seconds(60)) { python.output.contains("SNAPSHOT ") || !python.isRunning }, "python: \(python.output)")
        let snapshotLine = try #require(python.output.split(separator: "\n").first { $0.hasPrefix("SNAPSHOT ") })
        let snapshot = try #require(try JSONSerialization.jsonObject(with: Data(snapshotLine.dropFirst("SNAPSHOT ".count).utf8)) as? [String: String])
        #expect(snapshot.count == expected.count, "python got \(snapshot.count) last values, PostgreSQL has \(expected.count) markets of \(tag)")
        #expect(snapshot == expected, "last values = PostgreSQL")

        let marker = "-- \(expected.count) last values; live updates follow"
        #expect(await eventually(timeout: .seconds(60)) { watch.output.contains(marker) && watchJSON.output.contains(marker) },
                "watch: \(watch.output.suffix(500))\n\(watchJSON.output.suffix(500))")
        let watchLines = watch.output.split(separator: "\n").filter { expected[String($0.split(separator: " ").first ?? "")] != nil }
        #expect(Set(watchLines.map { String($0.split(separator: " ")[0]) }) == Set(expected.keys))
        #expect(watch.output.contains("\(ticker)  active  yes "), "one line per market: ticker, status, prices")
        let jsonLines = watchJSON.output.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(jsonLines.count == expected.count)
        #expect(jsonLines.allSatisfy { ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["kind"] as? String == "market" })

        // The simulator moves the market; the next cycle re-publishes it; every client hears it.
        try await h.simulatorPost("/_sim/clock", json: "{\"advance_seconds\": \(advance)}")
        let moved = try #require(try await h.simulatorJSONLines("/_sim/truth/markets").first { $0["ticker"] as? String == ticker })
        let newStatus = try #require(moved["status"] as? String)
        #expect(newStatus != "active", "\(ticker) closes within the advance of \(advance) s")
        try await h.runCycle()
        #expect(await eventually(timeout: .seconds(60)) { python.output.contains("UPDATE \(ticker) \(newStatus) \(tag)") },
                "python saw no update of \(ticker): \(python.output.suffix(1500))")
        #expect(await eventually(timeout: .seconds(30)) { watch.output.contains("\(ticker)  \(newStatus)  ") }, "\(watch.output.suffix(1500))")

        // SIGINT stops ssmd watch cleanly.
        watch.signal(SIGINT)
        #expect(await watch.waitForExit(timeout: .seconds(10)) && watch.exitCode == 0)
        #expect(python.isRunning, "the Python client ran until stopped: \(python.output.suffix(500))")
    }
}

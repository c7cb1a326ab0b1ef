import Foundation
import Testing
import TestSupport
import SSMDCore

/// `ssmd mcp` as a process: JSON-RPC over its stdin/stdout, answers compared with SQL.
@Suite(.tags(.processes), .processSlot) struct MCPTests {
    /// Reads newline-delimited JSON-RPC messages from the process's stdout.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var buffer = Data()
        func append(_ d: Data) { lock.withLock { buffer.append(d) } }
        func messages() -> [[String: Any]] {
            lock.withLock {
                buffer.split(separator: UInt8(ascii: "\n")).compactMap { (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any] }
            }
        }
        func response(id: Int, timeout: Duration = .seconds(30)) async -> [String: Any]? {
            var found: [String: Any]?
            _ = await eventually(timeout: timeout, every: .milliseconds(50)) {
                found = messages().first { ($0["id"] as? Int) == id }
                return found != nil
            }
            return found
        }
    }

    static func toolText(_ response: [String: Any]?) -> (text: String, isError: Bool) {
        let result = response?["result"] as? [String: Any]
        let text = ((result?["content"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
        return (text, (result?["isError"] as? Bool) ?? false)
    }

    @Test func toolsOverStdioAnswerFromPostgres() async throws {
        let h = try await PipelineHarness(name: "mcp", simulatorArguments: DataAPITests.frozenClock)
        defer { h.teardown() }
        try await h.fillSecmaster()

        var env = ProcessInfo.processInfo.environment
        env["SSMD_DATABASE_URL"] = h.postgres.connectionString
        let stdin = Pipe(), stdout = Pipe()
        let stderrURL = h.directory.url.appendingPathComponent("ssmd-mcp.stderr.log")
        let lines = Lines()
        stdout.fileHandleForReading.readabilityHandler = { lines.append($0.availableData) }
        let pid = try Spawn.start(BuiltProducts.executable("ssmd").path, ["mcp"], environment: env,
                                  stdin: .descriptor(stdin.fileHandleForReading.fileDescriptor),
                                  stdout: .descriptor(stdout.fileHandleForWriting.fileDescriptor),
                                  stderr: .file(stderrURL.path, append: false))
        // The child's ends belong to the child now: stdout must reach EOF when it exits.
        try stdin.fileHandleForReading.close()
        try stdout.fileHandleForWriting.close()
        var exitStatus: Int32?
        defer {
            if exitStatus == nil { Spawn.killInBackground(pid) }
            stdout.fileHandleForReading.readabilityHandler = nil
        }
        func send(_ json: String) { stdin.fileHandleForWriting.write(Data((json + "\n").utf8)) }

        send(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"ssmd-test","version":"1"}}}"#)
        let initialized = try #require(await lines.response(id: 1), "no initialize answer: \((try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")")
        #expect(((initialized["result"] as? [String: Any])?["serverInfo"] as? [String: Any])?["name"] as? String == "ssmd")
        send(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)

        send(#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#)
        let tools = await ((lines.response(id: 2)?["result"] as? [String: Any])?["tools"] as? [[String: Any]]) ?? []
        #expect(Set(tools.compactMap { $0["name"] as? String }) == ["list_series", "series_stats", "series_markets"])

        // list_series with a tag containing `&` and games_only.
        send(#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_series","arguments":{"tag":"S&P"}}}"#)
        let sp = await Self.toolText(lines.response(id: 3))
        #expect(!sp.isError, "\(sp.text)")
        let spSeries = ((try? JSONSerialization.jsonObject(with: Data(sp.text.utf8))) as? [String: Any])?["series"] as? [[String: Any]] ?? []
        #expect(spSeries.compactMap { $0["ticker"] as? String } == (try await DataAPITests.column(h, "SELECT ticker FROM series WHERE 'S&P' = ANY(tags) AND active ORDER BY ticker")))
        #expect(!spSeries.isEmpty)
        send(#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"list_series","arguments":{"category":"Sports","games_only":true}}}"#)
        let games = await ((try? JSONSerialization.jsonObject(with: Data(Self.toolText(lines.response(id: 4)).text.utf8))) as? [String: Any])?["series"] as? [[String: Any]] ?? []
        #expect(games.compactMap { $0["ticker"] as? String } == (try await DataAPITests.column(h, "SELECT ticker FROM series WHERE category = 'Sports' AND is_game AND active ORDER BY ticker")))

        // series_stats: per category, as SQL counts it.
        send(#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"series_stats","arguments":{}}}"#)
        let stats = await ((try? JSONSerialization.jsonObject(with: Data(Self.toolText(lines.response(id: 5)).text.utf8))) as? [String: Any])?["categories"] as? [[String: Any]] ?? []
        let sql = try await h.query("SELECT category, count(*) AS n, count(*) FILTER (WHERE is_game) AS g FROM series GROUP BY category ORDER BY category")
        #expect(stats.count == sql.rowCount && sql.rowCount > 1)
        for (i, row) in stats.enumerated() where i < sql.rowCount {
            #expect(row["category"] as? String == sql[i, "category"] && row["total"] as? Int == Int(sql[i, "n"]!) && row["games"] as? Int == Int(sql[i, "g"]!))
        }

        // series_markets: every market of a series; an unknown series is a tool error.
        let series = try #require(try await DataAPITests.column(h, "SELECT series_ticker FROM markets GROUP BY series_ticker ORDER BY count(*) DESC LIMIT 1").first)
        send(#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"series_markets","arguments":{"series":"\#(series)","limit":1000}}}"#)
        let markets = await ((try? JSONSerialization.jsonObject(with: Data(Self.toolText(lines.response(id: 6)).text.utf8))) as? [String: Any])?["markets"] as? [[String: Any]] ?? []
        #expect(markets.compactMap { $0["ticker"] as? String } == (try await DataAPITests.column(h, "SELECT ticker FROM markets WHERE series_ticker = $1 ORDER BY ticker", [.text(series)])))
        send(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"series_markets","arguments":{"series":"NO-SUCH-SERIES"}}}"#)
        let missing = await Self.toolText(lines.response(id: 7))
        #expect(missing.isError && missing.text.contains("NO-SUCH-SERIES"))

        // End of input ends the server.
        try stdin.fileHandleForWriting.close()
        #expect(await eventually(timeout: .seconds(10)) { exitStatus = Spawn.poll(pid); return exitStatus != nil }, "ssmd mcp did not exit at end of input")
        #expect(exitStatus == 0)
    }
}

import Foundation
import PostgresClient

/// What several freshness tests do alike: a pipeline through its first cycle, then market
/// statuses in PostgreSQL against the simulator's truth.
extension PipelineHarness {
    public struct FirstCycleNotDone: Error, CustomStringConvertible {
        public var logs: String
        public var description: String { "the first cycle did not complete and drain:\n\(logs)" }
    }

    /// db-writer, one market-fetcher and a series-fetcher daemon started with `arguments`,
    /// until its first cycle is complete and everything it handed out is in PostgreSQL.
    public func startThroughFirstCycle(seriesFetcher arguments: [String]) async throws -> ChildProcess {
        try start("db-writer", ["--batch-max-age", "100ms"])
        try start("market-fetcher")
        let fetcher = try start("series-fetcher", arguments)
        guard await eventually(timeout: .seconds(120), { fetcher.output.contains("cycle complete") }),
              try await waitUntilDrained(timeout: .seconds(120)) else { throw FirstCycleNotDone(logs: logs()) }
        return fetcher
    }

    /// Market ticker → status as PostgreSQL holds it (only `tickers` when given).
    public func storedStatuses(_ tickers: [String]? = nil) async throws -> [String: String] {
        let rows = if let tickers {
            try await query("SELECT ticker, status FROM markets WHERE ticker = ANY($1)", [.array(tickers)])
        } else {
            try await query("SELECT ticker, status FROM markets")
        }
        var out: [String: String] = [:]
        for i in 0..<rows.rowCount { if let t = rows[i, "ticker"] { out[t] = rows[i, "status"] } }
        return out
    }

    /// Market ticker → status in the simulator's truth now.
    public func trueStatuses() async throws -> [String: String] {
        var out: [String: String] = [:]
        for m in try await simulatorJSONLines("/_sim/truth/markets") {
            if let t = m["ticker"] as? String { out[t] = m["status"] as? String }
        }
        return out
    }

    /// Whether every one of `tickers` reaches its true status in PostgreSQL within `timeout`.
    public func statusesArrive(_ tickers: [String], truth: [String: String], timeout: Duration) async -> Bool {
        await eventually(timeout: timeout, every: .milliseconds(200)) {
            guard let stored = try? await storedStatuses(tickers) else { return false }
            return stored.count == tickers.count && tickers.allSatisfy { truth[$0] == stored[$0] }
        }
    }
}

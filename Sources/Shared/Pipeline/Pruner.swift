import Logging
import NATSClient
import PostgresClient
import SSMDCore
import WireContract

/// Removes what the exchange stopped listing long ago (the plan's "clean old data"): rows of
/// markets and events whose `gone_at` is older than a cutoff, and their last values in
/// `SSMD_SECMASTER`, so neither grows without bound.
///
/// It never blocks the writer: each batch is its own short transaction that deletes rows
/// the writer is not touching (`FOR UPDATE SKIP LOCKED`: a row being upserted is left for
/// the next batch), with a pause between batches. A market that reappears on the exchange
/// has `gone_at` cleared by the writer and is not deleted.
public struct Pruner: Sendable {
    public var batchSize = 2000
    /// Pause between batches: the writer's transactions get the database in between.
    public var pause: Duration = .milliseconds(50)
    /// Also purge the pruned markets' and events' subjects from `SSMD_SECMASTER`.
    public var purgeMessages = true

    private let connection: PostgresConnection
    private let js: JetStream?
    private let logger: Logger

    public init(connection: PostgresConnection, js: JetStream?, logger: Logger) {
        self.connection = connection
        self.js = js
        self.logger = logger
    }

    public struct Counts: Sendable, Equatable {
        public var markets = 0, events = 0, subjectsPurged = 0
        public init(markets: Int = 0, events: Int = 0, subjectsPurged: Int = 0) {
            self.markets = markets; self.events = events; self.subjectsPurged = subjectsPurged
        }
    }

    /// What a prune would delete now (events: those with no market left after it).
    public func count(goneBefore cutoff: Timestamp) async throws -> Counts {
        let r = try await connection.execute("""
            SELECT (SELECT count(*) FROM markets WHERE gone_at < $1::timestamptz) AS markets,
                   (SELECT count(*) FROM events e WHERE e.gone_at < $1::timestamptz
                      AND NOT EXISTS (SELECT 1 FROM markets m WHERE m.event_ticker = e.ticker
                                      AND (m.gone_at IS NULL OR m.gone_at >= $1::timestamptz))) AS events
            """, [.timestamp(cutoff)])
        return Counts(markets: Int(r[0, "markets"] ?? "0") ?? 0, events: Int(r[0, "events"] ?? "0") ?? 0)
    }

    /// Deletes markets, then events, gone before `cutoff`, batch by batch, until none is left
    /// or the task is cancelled (what is done stays done).
    public func prune(goneBefore cutoff: Timestamp) async throws -> Counts {
        var done = Counts()
        // Markets first: an event goes only once no market of it is left.
        done.markets = try await deleteInBatches("""
            WITH doomed AS (
                SELECT ticker FROM markets WHERE gone_at < $1::timestamptz
                ORDER BY gone_at LIMIT $2 FOR UPDATE SKIP LOCKED)
            DELETE FROM markets m USING doomed d WHERE m.ticker = d.ticker
            RETURNING m.ticker, m.series_ticker
            """, cutoff: cutoff, purged: &done.subjectsPurged) { Subjects.marketFilter(series: $0) }
        done.events = try await deleteInBatches("""
            WITH doomed AS (
                SELECT e.ticker FROM events e WHERE e.gone_at < $1::timestamptz
                  AND NOT EXISTS (SELECT 1 FROM markets m WHERE m.event_ticker = e.ticker)
                ORDER BY e.gone_at LIMIT $2 FOR UPDATE SKIP LOCKED)
            DELETE FROM events e USING doomed d WHERE e.ticker = d.ticker
            RETURNING e.ticker, e.series_ticker
            """, cutoff: cutoff, purged: &done.subjectsPurged) { Subjects.eventFilter(series: $0) }
        return done
    }

    /// Runs `deleteSQL` (cutoff $1, batch size $2, returning ticker and series_ticker) until
    /// it deletes nothing; erases each batch's last values; returns the rows deleted.
    private func deleteInBatches(_ deleteSQL: String, cutoff: Timestamp, purged: inout Int,
                                 subjects: (String) -> String) async throws -> Int {
        var deleted = 0
        while !Task.isCancelled {
            let rows = try await connection.execute(deleteSQL, [.timestamp(cutoff), .int(batchSize)])
            guard rows.rowCount > 0 else { break }
            deleted += rows.rowCount
            purged += await purge(rows, filter: subjects)
            try await Task.sleep(for: pause)
        }
        return deleted
    }

    /// Erases each deleted row's last value, a series at a time; a failure is logged and
    /// counted out (the message then stays until the next prune's pass over it or the
    /// stream's own limits), never fatal to the prune.
    private func purge(_ rows: PostgresResult, filter: (String) -> String) async -> Int {
        guard purgeMessages, let js else { return 0 }
        var bySeries: [String: Set<String>] = [:]
        for i in 0..<rows.rowCount {
            guard let ticker = rows[i, "ticker"], let series = rows[i, "series_ticker"] else { continue }
            bySeries[series, default: []].insert(ticker)
        }
        var purged = 0
        for (series, tickers) in bySeries.sorted(by: { $0.key < $1.key }) {
            do {
                purged += try await LastValueEraser(js: js).erase(matching: filter(series)) { tickers.contains($0) }
            } catch {
                logger.warning("could not remove pruned rows' last values", metadata: ["series": "\(series)", "error": "\(error)"])
            }
        }
        return purged
    }
}

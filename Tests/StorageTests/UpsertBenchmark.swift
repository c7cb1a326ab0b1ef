import Foundation
import Testing
import TestSupport
@testable import PostgresClient
@testable import Secmaster
@testable import SecmasterSchema

/// Throughput figures, not a pass/fail test: run with
/// `SSMD_STORAGE_BENCH=1 swift test --filter UpsertBenchmark` (add `-c release` for real numbers).
/// Uses a durable server (fsync on) and 200,000 market rows.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SSMD_STORAGE_BENCH"] != nil), .serialized)
struct UpsertBenchmark {
    @Test func copyVersusUpsert() async throws {
        let n = Int(ProcessInfo.processInfo.environment["SSMD_STORAGE_BENCH_ROWS"] ?? "") ?? 200_000
        let server = try await PostgresTestServer(database: "bench", durable: true)
        defer { server.teardown() }
        let conn = try await PostgresConnection.connect(server.connectionString)
        defer { conn.close() }
        _ = try await Migrator.embedded().migrate(conn)
        // Everything timed runs on the connection's own thread, as the writer's work does.
        let (copyReal, insert, noop) = try await conn.withSession { db in
            let store = SecmasterStore(connection: db)

            let events = (0..<n / 20).map { sampleEvent("KXBENCH-E\($0)", series: "KXBENCH") }
            let markets = (0..<n).map { sampleMarket("KXBENCH-E\($0 / 20)-M\($0)", event: "KXBENCH-E\($0 / 20)", series: "KXBENCH") }
            try store.upsert(events: events)
            try db.execute("CHECKPOINT")
            try db.execute("SET log_min_duration_statement = 50")

            func time(_ label: String, _ body: () throws -> Void) rethrows -> Double {
                let start = DispatchTime.now().uptimeNanoseconds
                try body()
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                print(String(format: "BENCH %-58@ %7.3f s  %9.0f rows/s", label as NSString, seconds, Double(n) / seconds))
                return seconds
            }
            let columns = SecmasterStore.SQL.marketColumns.joined(separator: ", ")

            // Baseline 1: plain COPY into the empty real table (its PK, 4 indexes and FK).
            let copyReal = try time("COPY into empty markets (indexes + FK)") {
                try db.transaction { tx in
                    _ = try tx.copyIn("COPY markets (\(columns)) FROM STDIN", rows: markets, encode: SecmasterStore.encode)
                }
            }
            try db.execute("TRUNCATE markets")
            try db.execute("CHECKPOINT")
            // Baseline 2: plain COPY into a bare table of the same columns.
            try db.execute("CREATE TABLE bare AS SELECT \(columns) FROM markets WITH NO DATA")
            _ = try time("COPY into empty bare table (no indexes)") {
                try db.transaction { tx in
                    _ = try tx.copyIn("COPY bare (\(columns)) FROM STDIN", rows: markets, encode: SecmasterStore.encode)
                }
            }
            // Swift-side encoding alone.
            _ = time("encode rows to COPY text only (no I/O)") {
                var writer = PostgresCopyRow(capacity: 300 << 20)
                for market in markets { writer.beginRow(); SecmasterStore.encode(market, &writer); writer.bytes.append(0x0A) }
                #expect(writer.bytes.count > n)
            }
            try db.execute("CHECKPOINT")

            var counts = UpsertCounts()
            let insert = try time("upsert: insert into empty markets") {
                counts = try store.upsert(markets: markets).markets
            }
            #expect(counts.inserted == n)
            try db.execute("VACUUM ANALYZE markets")
            try db.execute("CHECKPOINT")

            let changed = markets.map { m -> MarketRow in
                var m = m
                m.yesBidDollars = "0.5700"
                m.updatedTime = ts(60)
                m.fetchedAt = ts(60)
                return m
            }
            _ = try time("upsert: update every row") {
                counts = try store.upsert(markets: changed).markets
            }
            #expect(counts.updated == n)
            try db.execute("VACUUM ANALYZE markets")
            try db.execute("CHECKPOINT")

            let noop = try time("upsert: identical re-upsert (no-op)") {
                counts = try store.upsert(markets: changed).markets
            }
            #expect(counts.unchanged == n)
            return (copyReal, insert, noop)
        }
        let written = try await conn.execute("SELECT n_tup_upd, n_tup_ins FROM pg_stat_user_tables WHERE relname = 'markets'")
        print("BENCH markets n_tup_ins=\(written[0, "n_tup_ins"] ?? "?") n_tup_upd=\(written[0, "n_tup_upd"] ?? "?")")
        for line in server.serverLog().split(separator: "\n") where line.contains("duration:") {
            print("BENCH log \(line.prefix(220))")
        }
        print(String(format: "BENCH ratio upsert-insert / COPY(real table) = %.2f; no-op %.0f rows/s", copyReal / insert, Double(n) / noop))
    }
}

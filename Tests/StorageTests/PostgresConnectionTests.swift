import Foundation
import Testing
import TestSupport
@testable import PostgresClient
@testable import SSMDCore
@testable import Secmaster

@Suite struct PostgresConnectionTests {
    static let db = SuiteDatabase()

    @Test func parametersRoundTripExactly() async throws {
        let (conn, _, _) = try await Self.db.freshConnection()
        defer { conn.close() }
        for value in EncodingTests.awkward {
            let result = try await conn.execute("SELECT $1::text AS v", [value.map(PostgresValue.text)])
            #expect(result[0, "v"] == value)
        }
        let typed = try await conn.execute(
            "SELECT $1::int8 AS i, $2::float8 AS d, $3::bool AS b, $4::numeric AS n, $5::text IS NULL AS isnull",
            [.int64(-9_223_372_036_854_775_807), .double(0.1), .bool(true), "0.5600", nil])
        #expect(typed[0, "i"] == "-9223372036854775807")
        #expect(typed[0, "d"] == "0.1")
        #expect(typed[0, "b"] == "t")
        #expect(typed[0, "n"] == "0.5600")
        #expect(typed[0, "isnull"] == "t")
        // A NUL byte cannot be sent as text: rejected up front, as a data error.
        await #expect {
            try await conn.execute("SELECT $1::text", [.text("a\u{0}b")])
        } throws: { ($0 as? PostgresError)?.isConstraintViolation == true }
    }

    @Test func arrayParametersRoundTrip() async throws {
        let (conn, _, _) = try await Self.db.freshConnection()
        defer { conn.close() }
        let rows = try await conn.execute(
            "SELECT v, n FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n",
            [.array(EncodingTests.awkward)])
        #expect(rows.rows.map { $0[0] } == EncodingTests.awkward)
        let whole = try await conn.execute("SELECT $1::text[] AS a", [.array(EncodingTests.awkward)])
        #expect(PostgresArrayLiteral.decode(whole[0, "a"]!) == EncodingTests.awkward)
        let ints = try await conn.execute("SELECT sum(x)::text AS s, count(*) AS c FROM unnest($1::int8[]) x",
                                    [.array([Int64(1), 2, 3, Int64.max - 10])])
        #expect(ints[0, "c"] == "4")
        #expect(ints[0, "s"] == "9223372036854775803")
        let bools = try await conn.execute("SELECT $1::bool[] AS b", [.array([true, false, true])])
        #expect(bools[0, "b"] == "{t,f,t}")
        let empty = try await conn.execute("SELECT cardinality($1::text[]) AS c", [.array([String]())])
        #expect(empty[0, "c"] == "0")
    }

    @Test func copyInRoundTripsAwkwardText() async throws {
        let (conn, _, _) = try await Self.db.freshConnection()
        defer { conn.close() }
        try await conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text, w text)")
        let rows: [[String?]] = EncodingTests.awkward.enumerated().map { [String($0.offset), $0.element, "end"] }
        let copied = try await conn.withSession { try $0.copyIn("COPY t (id, v, w) FROM STDIN", rows: rows) }
        #expect(copied == rows.count)
        let back = try await conn.execute("SELECT v, w FROM t ORDER BY id")
        #expect(back.rows.map { $0[0] } == EncodingTests.awkward)
        #expect(back.rows.allSatisfy { $0[1] == "end" })
        // A bad row fails the COPY with a data error and leaves the connection usable.
        await #expect {
            try await conn.withSession { try $0.copyIn("COPY t (id, v, w) FROM STDIN", rows: [["x", "y", "z"]]) }
        } throws: { ($0 as? PostgresError)?.isConstraintViolation == true }
        #expect(try await conn.execute("SELECT count(*) FROM t").scalar == String(rows.count))
    }

    @Test func timestampsRoundTripToTheMicrosecond() async throws {
        let (conn, _, _) = try await Self.db.freshConnection()
        defer { conn.close() }
        let samples: [Int64] = [1_768_255_690_446_961, 0, -1, 1, -62_135_596_800_000_000, 4_089_243_540_000_000,
                                951_782_400_000_001, 253_402_300_799_999_999, 253_402_300_800_000_001,
                                -62_135_596_800_000_001]
        for micros in samples {
            let value = Timestamp(microsecondsSinceEpoch: micros)
            let result = try await conn.execute(
                "SELECT $1::timestamptz AS t, (extract(epoch FROM $1::timestamptz) * 1000000)::int8 AS micros",
                [.timestamp(value)])
            #expect(result[0, "micros"] == String(micros), "\(value.postgresText)")
            #expect(result[0, "t"].flatMap(Timestamp.init(postgresText:)) == value, "\(result[0, "t"] ?? "nil")")
        }
        let arrays = try await conn.execute("SELECT $1::timestamptz[] AS a",
                                      [.array([Timestamp(microsecondsSinceEpoch: 5), nil])])
        #expect(arrays[0, "a"] == "{\"1970-01-01 00:00:00.000005+00\",NULL}")
    }

    @Test func resultShapeAndAffectedRows() async throws {
        let (conn, _, _) = try await Self.db.freshConnection()
        defer { conn.close() }
        try await conn.execute("CREATE TABLE t (k text PRIMARY KEY, n int)")
        let insert = try await conn.execute("INSERT INTO t SELECT 'k' || g, g FROM generate_series(1, 5) g")
        #expect(insert.affectedRows == 5)
        let update = try await conn.execute("UPDATE t SET n = n + 1 WHERE n > $1", [.int(3)])
        #expect(update.affectedRows == 2)
        let select = try await conn.execute("SELECT k, n, NULL::text AS z FROM t ORDER BY n")
        #expect(select.rowCount == 5)
        #expect(select.columns == ["k", "n", "z"])
        #expect(select[0, "k"] == "k1")
        #expect(select[4, "n"] == "6")
        #expect(select[4, "z"] == nil)
    }

    @Test func transactionsCommitAndRollBack() async throws {
        let (conn, _, _) = try await Self.db.freshConnection()
        defer { conn.close() }
        try await conn.execute("CREATE TABLE t (k int PRIMARY KEY)")
        try await conn.withSession { db in
            try db.transaction { tx in _ = try tx.execute("INSERT INTO t VALUES (1)") }
            struct Boom: Error {}
            #expect(throws: Boom.self) {
                try db.transaction { tx in
                    try tx.execute("INSERT INTO t VALUES (2)")
                    throw Boom()
                }
            }
            // A nested transaction is a savepoint: its failure leaves the outer work intact.
            try db.transaction { tx in
                try tx.execute("INSERT INTO t VALUES (3)")
                _ = try? tx.transaction { inner in
                    try inner.execute("INSERT INTO t VALUES (4)")
                    try inner.execute("INSERT INTO t VALUES (3)")  // duplicate: fails
                }
            }
            // A swallowed failure would make COMMIT a silent rollback: reported instead.
            #expect(throws: PostgresError.self) {
                try db.transaction { tx in
                    try tx.execute("INSERT INTO t VALUES (5)")
                    _ = try? tx.execute("INSERT INTO t VALUES (5)")
                }
            }
        }
        let keys = try await conn.execute("SELECT k FROM t ORDER BY k").rows.map { $0[0] }
        #expect(keys == ["1", "3"])
        #expect(await conn.isIdleAndHealthy)
    }

    @Test func constraintViolationsAreClassified() async throws {
        let (conn, _, _) = try await Self.db.freshConnection()
        defer { conn.close() }
        _ = try await Migrator.embedded().migrate(conn)
        do {
            try await conn.execute("""
                INSERT INTO markets (ticker, event_ticker, series_ticker, status, fetched_at)
                VALUES ($1, $2, $3, $4, now())
                """, ["M-1", "NO-SUCH-EVENT", "S", "active"])
            Issue.record("insert should have failed")
        } catch let error as PostgresError {
            #expect(error.isConstraintViolation)
            #expect(!error.isConnectionLoss)
            #expect(error.sqlState == "23503")
            if case .query(_, _, let detail, let constraint) = error {
                #expect(constraint == "markets_event_ticker_fkey")
                #expect(detail?.contains("NO-SUCH-EVENT") == true)
            }
        }
        await #expect {
            try await conn.execute("SELECT $1::numeric", ["not a number"])
        } throws: { ($0 as? PostgresError)?.isConstraintViolation == true }
        await #expect {
            try await conn.execute("SELEC 1")
        } throws: { error in
            let e = error as? PostgresError
            return e?.sqlState == "42601" && e?.isConstraintViolation == false && e?.isConnectionLoss == false
        }
        #expect(await conn.isIdleAndHealthy)
    }

    @Test func connectionStringsURIsAndEnvironment() async throws {
        let server = try await Self.db.get()
        let uri = try await PostgresConnection.connect("postgresql://postgres@127.0.0.1:\(server.port)/\(server.database)?connect_timeout=5")
        #expect(try await uri.execute("SELECT current_database()").scalar == server.database)
        #expect(try await uri.execute("SELECT current_setting('TimeZone')").scalar == "UTC")
        uri.close()
        #expect(!(await uri.isIdleAndHealthy))
        await #expect { try await uri.execute("SELECT 1") } throws: { ($0 as? PostgresError)?.isConnectionLoss == true }

        let socket = try await PostgresConnection.connect(server.socketConnectionString)
        #expect(try await socket.execute("SELECT 1").scalar == "1")
        socket.close()

        // Empty string: libpq's PG* variables decide (only this test sets them; every other
        // connection string names host, port, database and user explicitly).
        setenv("PGHOST", "127.0.0.1", 1)
        setenv("PGPORT", String(server.port), 1)
        setenv("PGDATABASE", server.database, 1)
        setenv("PGUSER", "postgres", 1)
        defer { for name: String in ["PGHOST", "PGPORT", "PGDATABASE", "PGUSER"] { unsetenv(name) } }
        let env = try await PostgresConnection.connect("")
        #expect(try await env.execute("SELECT current_database()").scalar == server.database)
        env.close()
    }

    @Test func errorMessagesNeverContainThePassword() async throws {
        let server = try await Self.db.get()
        let good = "Corr3ct-H0rse-Battery"
        try await server.createRole(name: "writer", password: good)
        let ok = try await PostgresConnection.connect(server.connectionString(database: server.database,
                                                                                  user: "writer", password: good))
        #expect(try await ok.execute("SELECT current_user").scalar == "writer")
        ok.close()

        let wrong = "Wr0ng-Secret-Value"
        let attempts = [
            server.connectionString(database: server.database, user: "writer", password: wrong),
            "postgresql://writer:\(wrong)@127.0.0.1:\(server.port)/\(server.database)",
            "postgresql://writer:\(wrong)@127.0.0.1:\(server.port)/db name with spaces",
            "postgresql://writer:\(wrong)@[::1",  // libpq echoes the whole URI in this error
            "postgresql://writer:\(wrong)@[]:5/x",  // and in this one
            "host=127.0.0.1 port=\(server.port) user=writer password=\(wrong) bogus_option=1",
            "host=127.0.0.1 port=\(server.port) user=writer password = '\(wrong)' unterminated='",
            "postgresql://writer:\(wrong)@127.0.0.1:notaport/x",
        ]
        for attempt in attempts {
            do {
                _ = try await PostgresConnection.connect(attempt)
                Issue.record("connecting with \(attempt) should fail")
            } catch let error as PostgresError {
                let text = "\(error) \(error.message) \(String(describing: error))"
                #expect(!text.contains(wrong), "password leaked: \(text)")
                #expect(!text.contains("Wr0ng"), "password prefix leaked: \(text)")
                #expect(error.isConnectionLoss)
                if attempt.hasSuffix("[::1") {
                    #expect(text.contains("postgresql://writer:***@[::1"), "expected a redacted echo: \(text)")
                }
            }
        }
        let conn = try await PostgresConnection.connect(server.connectionString)
        #expect(!conn.redactedConnectionString.contains("password"))
        let redacted = PostgresSession.secrets(in: attempts[1]).scrub(attempts[1])
        #expect(redacted == "postgresql://writer:***@127.0.0.1:\(server.port)/\(server.database)")
    }

    /// A stopped server is a connection loss; after it is back, reset() recovers.
    @Test func stoppedServerIsConnectionLossAndResetRecovers() async throws {
        let server = try await PostgresTestServer()  // private: this test stops it
        defer { server.teardown() }
        let conn = try await PostgresConnection.connect(server.connectionString)
        try await conn.execute("CREATE TABLE t (k int)")
        let pid = try #require(server.postmasterPID)
        await server.stop()
        #expect(!server.isRunning)
        #expect(kill(pid, 0) != 0, "postmaster still alive after stop()")
        do {
            try await conn.execute("INSERT INTO t VALUES (1)")
            Issue.record("insert on a stopped server should fail")
        } catch let error as PostgresError {
            #expect(error.isConnectionLoss, "\(error)")
            #expect(error.isTransient)
        }
        #expect(!(await conn.isIdleAndHealthy))
        await #expect { try await conn.reset() } throws: { ($0 as? PostgresError)?.isConnectionLoss == true }
        await #expect {
            try await PostgresConnection.connect(server.connectionString)
        } throws: { ($0 as? PostgresError)?.isConnectionLoss == true }

        try await server.start()
        #expect(server.isRunning)
        try await conn.reset()
        #expect(await conn.isIdleAndHealthy)
        try await conn.execute("INSERT INTO t VALUES (1)")
        #expect(try await conn.execute("SELECT count(*) FROM t").scalar == "1")
        conn.close()
    }
}

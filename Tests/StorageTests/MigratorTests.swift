import Foundation
import Testing
import TestSupport
@testable import PostgresClient
@testable import SSMDCore
@testable import Secmaster

@Suite struct MigratorTests {
    static let db = SuiteDatabase()

    /// A temp directory of migration files, removed by `remove()`.
    struct TempMigrations {
        let url: URL
        init(_ files: [String: String]) throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("ssmd-migr-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for (name, sql) in files { try write(name, sql) }
        }
        func write(_ name: String, _ sql: String) throws {
            try sql.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        func remove() { try? FileManager.default.removeItem(at: url) }
    }

    @Test func appliesTheSecmasterSchemaOnce() async throws {
        let (conn, _, _) = try await Self.db.freshConnection()
        defer { conn.close() }
        let migrator = try Migrator.embedded()
        let first = try await migrator.migrate(conn)
        #expect(first.map(\.version) == migrator.migrations.map(\.version))
        #expect(Array(first.map(\.name).prefix(2)) == ["secmaster", "series"])
        #expect(try await migrator.migrate(conn).isEmpty)
        let recorded = try await conn.execute("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")
        #expect(recorded.rows.map { $0[0] } == migrator.migrations.map { String($0.version) })
        #expect(recorded.rows.map { $0[1] } == migrator.migrations.map(\.name))
        #expect(recorded.rows.map { $0[2] } == migrator.migrations.map { Optional($0.checksum) })
        #expect(recorded.rows.allSatisfy { $0[3] != nil })
        // The files on disk are the same migrations: nothing more to do, no checksum complaint.
        let files = try Migrator(directory: try #require(Migrator.defaultDirectory(environment: [:])))
        #expect(try await files.migrate(conn).isEmpty)
        // Our checksum agrees with the server's SHA-256.
        let serverSum = try await conn.execute("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')",
                                         [.text(migrator.migrations[0].sql)]).scalar
        #expect(serverSum == migrator.migrations[0].checksum)
        // The plan's series table and indexes exist.
        let indexes = try await conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'series' ORDER BY 1")
        #expect(indexes.rows.map { $0[0] } == ["idx_series_category", "idx_series_category_game", "idx_series_tags", "series_pkey"])
    }

    /// 004 brings `series` to the plan's constraints, and a database migrated with 002's
    /// first header (the same SQL) is still accepted.
    @Test func seriesHasThePlansConstraintsAndTheOld002IsAccepted() async throws {
        let (conn, _, _) = try await Self.db.freshConnection()
        defer { conn.close() }
        let migrator = try Migrator.embedded()
        _ = try await migrator.migrate(conn)
        let nullable = try await conn.execute("""
            SELECT column_name FROM information_schema.columns
            WHERE table_name = 'series' AND is_nullable = 'YES' ORDER BY 1
            """)
        #expect(nullable.rows.isEmpty, "nullable series columns: \(nullable.rows)")
        let gin = try await conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_series_tags'").scalar ?? ""
        #expect(gin.contains("gin") && gin.contains("WHERE (active = true)"), "\(gin)")
        await #expect(throws: PostgresError.self) {
            try await conn.execute("INSERT INTO series (ticker, title, category, tags) VALUES ('X', 't', 'c', NULL)")
        }
        // The checksum 002 had before its header was corrected.
        try await conn.execute("UPDATE schema_migrations SET checksum = '2a11185f84c55576e0172f81f246c58e971ccf8ec9abe11213259fe59ce0a423' WHERE version = 2")
        #expect(try await migrator.migrate(conn).isEmpty)
    }

    @Test func appliesInNumericOrder() async throws {
        let (conn, _, _) = try await Self.db.freshConnection()
        defer { conn.close() }
        // Lexical order would run 10 before 2 and fail.
        let dir = try TempMigrations([
            "1_create.sql": "CREATE TABLE log (step int, at timestamptz DEFAULT clock_timestamp());\nINSERT INTO log (step) VALUES (1);",
            "2_alter.sql": "ALTER TABLE log ADD COLUMN note text; INSERT INTO log (step, note) VALUES (2, 'two');",
            "10_use.sql": "INSERT INTO log (step, note) VALUES (10, (SELECT note FROM log WHERE step = 2));",
            "README.md": "not a migration",
        ])
        defer { dir.remove() }
        let applied = try await Migrator(directory: dir.url).migrate(conn)
        #expect(applied.map(\.version) == [1, 2, 10])
        let log = try await conn.execute("SELECT step, note FROM log ORDER BY at")
        #expect(log.rows.map { $0[0] } == ["1", "2", "10"])
        #expect(log[2, "note"] == "two")
        // A new file later is applied alone.
        try dir.write("11_more.sql", "INSERT INTO log (step) VALUES (11);")
        #expect(try await Migrator(directory: dir.url).migrate(conn).map(\.version) == [11])
    }

    @Test func concurrentMigratorsDoNotRace() async throws {
        let (_, server, name) = try await Self.db.freshConnection()
        let connectionString = server.connectionString(database: name)
        // Several "daemons" start at once, each with its own connection.
        let results = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await PostgresConnection.with(connectionString) { try await Migrator.embedded().migrate($0).map(\.version) }
                }
            }
            var all: [[Int]] = []
            for try await result in group { all.append(result) }
            return all
        }
        let all = try Migrator.embedded().migrations.map(\.version)
        #expect(results.filter { !$0.isEmpty } == [all], "\(results)")
        let conn = try await PostgresConnection.connect(connectionString)
        defer { conn.close() }
        #expect(try await conn.execute("SELECT count(*) FROM schema_migrations").scalar == String(all.count))
    }

    @Test func refusesAChangedChecksum() async throws {
        let (conn, _, _) = try await Self.db.freshConnection()
        defer { conn.close() }
        let dir = try TempMigrations(["001_a.sql": "CREATE TABLE a (x int);", "002_b.sql": "CREATE TABLE b (x int);"])
        defer { dir.remove() }
        _ = try await Migrator(directory: dir.url).migrate(conn)
        try dir.write("001_a.sql", "CREATE TABLE a (x int, y int);")
        try dir.write("003_c.sql", "CREATE TABLE c (x int);")
        await #expect {
            _ = try await Migrator(directory: dir.url).migrate(conn)
        } throws: { error in
            guard case MigrationError.checksumMismatch(let version, let name, _, _) = error else { return false }
            return version == 1 && name == "a" && "\(error)".contains("changed after it was applied")
        }
        // Refused before applying anything else.
        #expect(try await conn.execute("SELECT to_regclass('c') IS NULL").scalar == "t")
    }

    @Test func aFailingMigrationLeavesNoTrace() async throws {
        let (conn, _, _) = try await Self.db.freshConnection()
        defer { conn.close() }
        let dir = try TempMigrations([
            "001_ok.sql": "CREATE TABLE ok (x int);",
            "002_bad.sql": "CREATE TABLE half (x int);\nINSERT INTO nowhere VALUES (1);",
        ])
        defer { dir.remove() }
        await #expect {
            _ = try await Migrator(directory: dir.url).migrate(conn)
        } throws: { error in
            guard case MigrationError.failed(let version, _, let underlying) = error else { return false }
            return version == 2 && underlying.sqlState == "42P01"
        }
        #expect(try await conn.execute("SELECT version FROM schema_migrations").rows.map { $0[0] } == ["1"])
        #expect(try await conn.execute("SELECT to_regclass('half') IS NULL").scalar == "t")
        // The lock was released: another connection can migrate (once the file is fixed).
        try dir.write("002_bad.sql", "CREATE TABLE half (x int);")
        let database = try #require(try await conn.execute("SELECT current_database()").scalar)
        let server = try await Self.db.get()
        let other = try await PostgresConnection.connect(server.connectionString(database: database))
        defer { other.close() }
        #expect(try await Migrator(directory: dir.url).migrate(other).map(\.version) == [2])
    }

    @Test func rejectsBadMigrationSets() throws {
        let dup = try TempMigrations(["001_a.sql": "SELECT 1;", "1_b.sql": "SELECT 2;"])
        defer { dup.remove() }
        #expect(throws: MigrationError.self) { try Migrator(directory: dup.url) }
        let empty = try TempMigrations([:])
        defer { empty.remove() }
        #expect(throws: MigrationError.noMigrations(directory: empty.url.path)) { try Migrator(directory: empty.url) }
    }
}

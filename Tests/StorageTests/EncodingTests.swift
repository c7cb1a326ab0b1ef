import Foundation
import Testing
@testable import PostgresClient
@testable import SSMDCore
@testable import Secmaster

/// Pure encoders: no server needed.
@Suite struct EncodingTests {
    static let awkward: [String?] = [
        "plain", "a\"b", "back\\slash", "tab\there", "new\nline", "cr\rreturn", "comma,here", "{braces}",
        " spaces ", "NULL", "null", "", "ünïcödé 🚀 中文", "\\N", "\"quoted\"", "trailing\\", "\\\\double",
        nil, "x\r\n\t\\y", "'single'", "a}b{c,d\"e\\f",
    ]

    @Test func arrayLiteralQuotesEveryElement() {
        #expect(PostgresArrayLiteral.encode([]) == "{}")
        #expect(PostgresArrayLiteral.encode(["a", nil, "NULL", ""]) == #"{"a",NULL,"NULL",""}"#)
        #expect(PostgresArrayLiteral.encode(["a\"b", "c\\d", "e,f", "{g}"]) == #"{"a\"b","c\\d","e,f","{g}"}"#)
        #expect(PostgresValue.array([Int64(1), -2, 3]).text == "{1,-2,3}")
        #expect(PostgresValue.array([true, false]).text == "{t,f}")
        #expect(PostgresValue.array([Bool?.none, true]).text == "{NULL,t}")
    }

    @Test func arrayLiteralDecodeInvertsEncode() {
        #expect(PostgresArrayLiteral.decode(PostgresArrayLiteral.encode(Self.awkward)) == Self.awkward)
        #expect(PostgresArrayLiteral.decode("{}") == [])
        #expect(PostgresArrayLiteral.decode("{a,NULL,\"NULL\",\"b c\"}") == ["a", nil, "NULL", "b c"])
        #expect(PostgresArrayLiteral.decode("[0:1]={x,y}") == ["x", "y"])
        #expect(PostgresArrayLiteral.decode("not an array") == nil)
        #expect(PostgresArrayLiteral.decode("{{1,2},{3,4}}") == nil)
    }

    @Test func copyTextEscaping() {
        #expect(PostgresCopyText.encodeRow(["a", nil, ""]) == "a\t\\N\t\n")
        #expect(PostgresCopyText.encodeRow(["t\tn\nr\rb\\"]) == "t\\tn\\nr\\rb\\\\\n")
        #expect(PostgresCopyText.encodeRow(["\\N"]) == "\\\\N\n")
        #expect(PostgresCopyText.encodeRow(["ünï 🚀"]) == "ünï 🚀\n")
    }

    @Test func doublesUsePostgresSpellings() {
        #expect(PostgresValue.double(0.1).text == "0.1")
        #expect(PostgresValue.double(.infinity).text == "Infinity")
        #expect(PostgresValue.double(-.infinity).text == "-Infinity")
        #expect(PostgresValue.double(.nan).text == "NaN")
    }

    @Test func timestampFormatting() {
        #expect(Timestamp(microsecondsSinceEpoch: 1_768_255_690_446_961).postgresText == "2026-01-12T22:08:10.446961Z")
        #expect(Timestamp(microsecondsSinceEpoch: 0).postgresText == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp(microsecondsSinceEpoch: -1).postgresText == "1969-12-31T23:59:59.999999Z")
        #expect(Timestamp(microsecondsSinceEpoch: -62_135_596_800_000_000).postgresText == "0001-01-01T00:00:00.000000Z")
        #expect(Timestamp(microsecondsSinceEpoch: 951_782_400_000_000).postgresText == "2000-02-29T00:00:00.000000Z")
        #expect(Timestamp(microsecondsSinceEpoch: 4_089_243_540_000_000).postgresText == "2099-08-01T04:59:00.000000Z")
        #expect(Timestamp(microsecondsSinceEpoch: 253_402_300_800_000_001).postgresText == "10000-01-01T00:00:00.000001Z")
        #expect(Timestamp(postgresText: "10000-01-01 00:00:00.000001+00")?.microsecondsSinceEpoch == 253_402_300_800_000_001)
        #expect(Timestamp(microsecondsSinceEpoch: -62_135_596_800_000_001).postgresText == "0001-12-31T23:59:59.999999Z BC")
    }

    @Test func timestampParsing() {
        let t = Timestamp(microsecondsSinceEpoch: 1_768_255_690_446_961)
        #expect(Timestamp(postgresText: "2026-01-12 22:08:10.446961+00") == t)
        #expect(Timestamp(postgresText: "2026-01-12T22:08:10.446961Z") == t)
        #expect(Timestamp(postgresText: "2026-01-13 03:38:10.446961+05:30") == t)
        #expect(Timestamp(postgresText: "2026-01-12 14:08:10.446961-08") == t)
        #expect(Timestamp(postgresText: "2026-01-12 22:08:10.4469+00")?.microsecondsSinceEpoch == 1_768_255_690_446_900)
        #expect(Timestamp(postgresText: "2026-01-12 22:08:10+00")?.microsecondsSinceEpoch == 1_768_255_690_000_000)
        #expect(Timestamp(postgresText: "0001-01-01 00:00:00+00")?.microsecondsSinceEpoch == -62_135_596_800_000_000)
        #expect(Timestamp(postgresText: "infinity") == nil)
        #expect(Timestamp(postgresText: "2026-13-01 00:00:00+00") == nil)
        // round trip over a spread of instants, negative ones included
        var x: Int64 = -70_000_000_000_000_000
        while x < 250_000_000_000_000_000 {
            let value = Timestamp(microsecondsSinceEpoch: x)
            #expect(Timestamp(postgresText: value.postgresText) == value)
            x += 9_876_543_210_987
        }
    }

    /// Checksums recorded in `schema_migrations` are hex SHA-256 of the file's bytes: the
    /// values stored by earlier releases must still match.
    @Test func migrationChecksumsAreHexSHA256() throws {
        #expect(try Migration(fileName: "001_a.sql", sql: "abc").checksum == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(try Migration(fileName: "001_a.sql", sql: "").checksum == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(try Migration(fileName: "001_a.sql", sql: String(repeating: "a", count: 1000)).checksum
            == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func migrationFileNames() throws {
        #expect(Migration.parse(fileName: "001_secmaster.sql")! == (1, "secmaster"))
        #expect(Migration.parse(fileName: "10_more_things.sql")! == (10, "more_things"))
        #expect(Migration.parse(fileName: "README.md") == nil)
        #expect(Migration.parse(fileName: "abc_x.sql") == nil)
        #expect(Migration.parse(fileName: "001_.sql") == nil)
    }

    /// The copies the build compiled in (the EmbedMigrations plugin) are byte for byte the files.
    @Test func embeddedMigrationsMatchFiles() throws {
        let directory = try #require(Migrator.defaultDirectory(environment: [:]))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { Migration.parse(fileName: $0) != nil }.sorted()
        #expect(EmbeddedMigrations.files.map(\.name) == files)
        for (name, sql) in EmbeddedMigrations.files {
            let onDisk = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            #expect(sql == onDisk, "\(name) differs from its embedded copy")
        }
        let embedded = try Migrator.embedded()
        let fromFiles = try Migrator(directory: directory)
        #expect(embedded.migrations.map(\.checksum) == fromFiles.migrations.map(\.checksum))
        #expect(embedded.migrations.map(\.version) == files.compactMap { Migration.parse(fileName: $0)?.0 })
    }

    @Test func defaultDirectoryHonoursEnvironment() {
        #expect(Migrator.defaultDirectory(environment: ["SSMD_MIGRATIONS_DIR": "/opt/ssmd/migrations"])?.path
            == "/opt/ssmd/migrations")
        let found = Migrator.defaultDirectory(environment: [:])
        #expect(found?.lastPathComponent == "migrations")
    }

    @Test func passwordsAreFoundAndRedacted() {
        let keyword = PostgresSession.secrets(in: "host=db user=u password='p@ss w\\'rd' dbname=x")
        #expect(keyword.values.contains("p@ss w'rd"))
        let uri = PostgresSession.secrets(in: "postgresql://u:s%40cret@db:5432/x")
        #expect(uri.values.contains("s@cret") && uri.values.contains("s%40cret"))
        let broken = PostgresSession.secrets(in: "host=db password=hunter2 'unterminated")
        #expect(broken.values.contains("hunter2"))
        #expect(Secrets(["hunter2", "s@cret"]).scrub("failed for hunter2 and s@cret") == "failed for *** and ***")
    }

    @Test func errorClassification() {
        let fk = PostgresError.query(sqlState: "23503", message: "fk", detail: nil, constraint: "markets_event_ticker_fkey")
        #expect(fk.isConstraintViolation && !fk.isConnectionLoss && !fk.isTransient)
        let json = PostgresError.query(sqlState: "22P02", message: "bad json", detail: nil, constraint: nil)
        #expect(json.isConstraintViolation)
        let shutdown = PostgresError.query(sqlState: "57P01", message: "terminating", detail: nil, constraint: nil)
        #expect(shutdown.isConnectionLoss && shutdown.isTransient && !shutdown.isConstraintViolation)
        #expect(PostgresError.connection(message: "gone").isConnectionLoss)
        #expect(PostgresError.query(sqlState: "40P01", message: "deadlock", detail: nil, constraint: nil).isTransient)
        #expect(!PostgresError.query(sqlState: "42601", message: "syntax", detail: nil, constraint: nil).isTransient)
    }
}

import Crypto
import Foundation
import PostgresClient
import SSMDCore

/// One schema migration: the file `NNN_name.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let fileName: String
    public let sql: String
    /// SHA-256 (hex) of the SQL's UTF-8 bytes, recorded in `schema_migrations.checksum`.
    public let checksum: String

    public init(fileName: String, sql: String) throws {
        guard let (version, name) = Migration.parse(fileName: fileName) else {
            throw MigrationError.badFileName(fileName)
        }
        self.version = version
        self.name = name
        self.fileName = fileName
        self.sql = sql
        self.checksum = SHA256.hash(data: Array(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// `001_secmaster.sql` → (1, "secmaster"); nil if the name does not fit `NNN_name.sql`.
    static func parse(fileName: String) -> (Int, String)? {
        guard fileName.hasSuffix(".sql"), let underscore = fileName.firstIndex(of: "_") else { return nil }
        let digits = fileName[..<underscore]
        let name = fileName[fileName.index(after: underscore)..<fileName.index(fileName.endIndex, offsetBy: -4)]
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let version = Int(digits),
              !name.isEmpty
        else { return nil }
        return (version, String(name))
    }
}

public enum MigrationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An applied migration's file changed since it was applied. Never edit an applied
    /// migration: add a new one.
    case checksumMismatch(version: Int, name: String, applied: String, current: String)
    case duplicateVersion(version: Int, files: [String])
    case badFileName(String)
    case noMigrations(directory: String)
    case unreadable(path: String, reason: String)
    /// A migration failed and was rolled back (nothing of it was applied).
    case failed(version: Int, name: String, error: PostgresError)

    public var description: String {
        switch self {
        case .checksumMismatch(let version, let name, let applied, let current):
            return "migration \(version) (\(name)) was changed after it was applied: checksum in schema_migrations "
                + "is \(applied), the file's is \(current). Restore the file and add a new migration instead."
        case .duplicateVersion(let version, let files):
            return "more than one migration has version \(version): \(files.joined(separator: ", "))"
        case .badFileName(let name):
            return "migration file name \(name) does not match NNN_name.sql"
        case .noMigrations(let directory):
            return "no NNN_name.sql migrations in \(directory)"
        case .unreadable(let path, let reason):
            return "cannot read migrations at \(path): \(reason)"
        case .failed(let version, let name, let error):
            return "migration \(version) (\(name)) failed and was rolled back: \(error)"
        }
    }
}

/// Applies `migrations/NNN_name.sql` once each, in numeric order.
///
/// * Runs under a session advisory lock (``advisoryLockKey``) so daemons starting at the
///   same time do not race: the second waits, then finds nothing to do.
/// * Each file runs in its own transaction together with its `schema_migrations` row, so
///   a failed file leaves no trace. (A file therefore must not contain `BEGIN`/`COMMIT` or
///   statements that cannot run in a transaction, like `CREATE INDEX CONCURRENTLY`.)
/// * Refuses to run if an applied migration's checksum differs from its file.
/// * Uses the files when a migrations directory is found, else the copies compiled into
///   the binary (``EmbeddedMigrations``).
public struct Migrator: Sendable {
    /// Earlier texts of applied migrations whose comments alone were corrected later (the SQL
    /// is the same), by file name: databases migrated with them are not refused.
    static let earlierChecksums: [String: Set<String>] = [
        // 002's header claimed the plan's constraints; 004 brings them, the header says so.
        "002_series": ["2a11185f84c55576e0172f81f246c58e971ccf8ec9abe11213259fe59ce0a423"],
    ]

    /// `pg_advisory_lock` key: the ASCII bytes of "ssmd-mig".
    public static let advisoryLockKey: Int64 = 0x7373_6d64_2d6d_6967

    public let migrations: [Migration]
    /// Where the migrations came from: a directory path, or `"embedded"`.
    public let origin: String

    public init(migrations: [Migration], origin: String) throws {
        var byVersion: [Int: [String]] = [:]
        for migration in migrations { byVersion[migration.version, default: []].append(migration.fileName) }
        if let (version, files) = byVersion.first(where: { $0.value.count > 1 }) {
            throw MigrationError.duplicateVersion(version: version, files: files.sorted())
        }
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.origin = origin
    }

    /// Reads every `NNN_name.sql` in `directory` (other files are ignored).
    public init(directory: URL) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw MigrationError.unreadable(path: directory.path, reason: "\(error)")
        }
        var migrations: [Migration] = []
        for name in names where Migration.parse(fileName: name) != nil {
            let url = directory.appendingPathComponent(name)
            do {
                let sql = try String(contentsOf: url, encoding: .utf8)
                migrations.append(try Migration(fileName: name, sql: sql))
            } catch let error as MigrationError {
                throw error
            } catch {
                throw MigrationError.unreadable(path: url.path, reason: "\(error)")
            }
        }
        guard !migrations.isEmpty else { throw MigrationError.noMigrations(directory: directory.path) }
        try self.init(migrations: migrations, origin: directory.path)
    }

    /// The migrations compiled into the binary.
    public static func embedded() throws -> Migrator {
        try Migrator(migrations: EmbeddedMigrations.files.map { try Migration(fileName: $0.name, sql: $0.sql) },
                     origin: "embedded")
    }

    /// The files from ``defaultDirectory()`` when there is one, else the embedded copies.
    /// When `SSMD_MIGRATIONS_DIR` is set, its directory must be readable and non-empty.
    public static func standard() throws -> Migrator {
        if let directory = defaultDirectory() { return try Migrator(directory: directory) }
        return try embedded()
    }

    /// Where migration files live: `$SSMD_MIGRATIONS_DIR` if set; else the first
    /// `migrations/` directory holding `001_secmaster.sql` found walking up from the
    /// executable's location, then from the current directory; else nil (use embedded).
    public static func defaultDirectory(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> URL? {
        if let configured = environment["SSMD_MIGRATIONS_DIR"], !configured.isEmpty {
            return URL(fileURLWithPath: configured, isDirectory: true)
        }
        var starts: [URL] = []
        if let executable = Bundle.main.executableURL {
            starts.append(executable.resolvingSymlinksInPath().deletingLastPathComponent())
        }
        if let argument = CommandLine.arguments.first, argument.contains("/") {
            starts.append(URL(fileURLWithPath: argument).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        starts.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
        for start in starts {
            var directory = start.standardizedFileURL
            while true {
                let candidate = directory.appendingPathComponent("migrations", isDirectory: true)
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("001_secmaster.sql").path) {
                    return candidate
                }
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path || directory.path == "/" { break }
                directory = parent
            }
        }
        return nil
    }

    /// Applies every pending migration and returns those it applied (empty when the
    /// schema is current). Blocks while another process holds the migration lock.
    @discardableResult
    public func migrate(_ connection: PostgresSession) throws -> [Migration] {
        try connection.execute("SELECT pg_advisory_lock($1::bigint)", [.int64(Migrator.advisoryLockKey)])
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock($1::bigint)", [.int64(Migrator.advisoryLockKey)]) }

        try connection.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    INT PRIMARY KEY,
                name       TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                checksum   TEXT NOT NULL
            )
            """)
        let applied = try connection.execute("SELECT version, name, checksum FROM schema_migrations")
        var appliedChecksums: [Int: String] = [:]
        for row in 0..<applied.rowCount {
            guard let version = applied[row, "version"].flatMap({ Int($0) }) else { continue }
            appliedChecksums[version] = applied[row, "checksum"] ?? ""
        }
        // Verify everything first: refuse before applying anything if history was edited.
        for migration in migrations {
            if let checksum = appliedChecksums[migration.version], checksum != migration.checksum,
               !(Self.earlierChecksums[String(format: "%03d_%@", migration.version, migration.name)] ?? []).contains(checksum) {
                throw MigrationError.checksumMismatch(version: migration.version, name: migration.name,
                                                      applied: checksum, current: migration.checksum)
            }
        }
        var done: [Migration] = []
        for migration in migrations where appliedChecksums[migration.version] == nil {
            do {
                try connection.transaction { tx in
                    try tx.executeScript(migration.sql)
                    try tx.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at, checksum) VALUES ($1, $2, now(), $3)",
                        [.int(migration.version), .text(migration.name), .text(migration.checksum)])
                }
            } catch let error as PostgresError {
                throw MigrationError.failed(version: migration.version, name: migration.name, error: error)
            }
            done.append(migration)
        }
        return done
    }
}


extension Migrator {
    /// Applies pending migrations on the connection's thread; returns those applied.
    public func migrate(_ connection: PostgresConnection) async throws -> [Migration] {
        try await connection.withSession { try self.migrate($0) }
    }
}

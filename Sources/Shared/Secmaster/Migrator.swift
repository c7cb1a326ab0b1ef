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
        self.checksum = SHA256Digest.hex(Array(sql.utf8))
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
            if let checksum = appliedChecksums[migration.version], checksum != migration.checksum {
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

/// A small SHA-256 (FIPS 180-4), enough to fingerprint migration files without a crypto dependency.
enum SHA256Digest {
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    static func hex(_ message: [UInt8]) -> String {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var data = message
        let bitLength = UInt64(message.count) * 8
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 64)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                let b = chunk + i * 4
                w[i] = UInt32(data[b]) << 24 | UInt32(data[b + 1]) << 16 | UInt32(data[b + 2]) << 8 | UInt32(data[b + 3])
            }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
            for i in 0..<64 {
                let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                let ch = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
                let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ maj
                hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
            }
            h[0] = h[0] &+ a; h[1] = h[1] &+ b; h[2] = h[2] &+ c; h[3] = h[3] &+ d
            h[4] = h[4] &+ e; h[5] = h[5] &+ f; h[6] = h[6] &+ g; h[7] = h[7] &+ hh
        }
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for word in h {
            for shift in stride(from: 28, through: 0, by: -4) { out.append(digits[Int((word >> UInt32(shift)) & 0xF)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always) private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
}

extension Migrator {
    /// Applies pending migrations on the connection's thread; returns those applied.
    public func migrate(_ connection: PostgresConnection) async throws -> [Migration] {
        try await connection.withSession { try self.migrate($0) }
    }
}

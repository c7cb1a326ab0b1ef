import Foundation

// migration-embedder OUTPUT FILE.sql...: writes a Swift file declaring `EmbeddedMigrations.files`,
// the (file name, SQL) of each input in order, byte for byte. Run by the EmbedMigrations
// build plugin; not a program for people.

/// `s` as a Swift string literal (every character that needs it escaped).
func literal(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\\": out += "\\\\"
        case "\"": out += "\\\""
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 || u.value == 0x7F { out += "\\u{\(String(u.value, radix: 16))}" } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

let arguments = CommandLine.arguments.dropFirst()
guard let output = arguments.first else {
    FileHandle.standardError.write(Data("usage: migration-embedder OUTPUT FILE.sql...\n".utf8))
    exit(2)
}
var source = """
    // Generated at build time by the EmbedMigrations plugin from migrations/*.sql.

    /// The migration files compiled into the binary, used when no migrations/ directory is found.
    public enum EmbeddedMigrations {
        /// (file name, SQL) in file-name order.
        public static let files: [(name: String, sql: String)] = [

    """
for path in arguments.dropFirst() {
    guard let data = FileManager.default.contents(atPath: path), let sql = String(data: data, encoding: .utf8) else {
        FileHandle.standardError.write(Data("migration-embedder: cannot read \(path) as UTF-8\n".utf8))
        exit(1)
    }
    source += "        (\(literal(URL(fileURLWithPath: path).lastPathComponent)), \(literal(sql))),\n"
}
source += "    ]\n}\n"
do {
    try source.write(toFile: output, atomically: true, encoding: .utf8)
} catch {
    FileHandle.standardError.write(Data("migration-embedder: cannot write \(output): \(error)\n".utf8))
    exit(1)
}

import Foundation
import Logging
import SSMDCore

public enum LogFormat: String, Sendable, CaseIterable { case logfmt, json }

/// Structured log lines on stderr: `logfmt` for people, `json` for collectors.
/// Metadata keys that look secret (password, token, key, secret, credentials) are redacted
/// here as a last line of defence; callers should not log secrets in the first place.
public struct StructuredLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let format: LogFormat

    public init(label: String, level: Logger.Level, format: LogFormat) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static let secretWords = ["password", "passwd", "secret", "private_key", "privatekey", "credentials", "api_key", "apikey"]

    static func isSecret(_ key: String) -> Bool {
        let k = key.lowercased()
        return secretWords.contains { k.contains($0) } || k == "token" || k.hasSuffix("_token") || k.hasSuffix(".token")
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let time = Timestamp.now().iso8601
        var line: String
        switch format {
        case .logfmt:
            line = "time=\(time) level=\(event.level) logger=\(label) msg=\(Self.logfmtValue("\(event.message)"))"
            for key in merged.keys.sorted() {
                let value = Self.isSecret(key) ? "[redacted]" : "\(merged[key]!)"
                line += " \(key)=\(Self.logfmtValue(value))"
            }
        case .json:
            var fields: [String: JSONValue] = ["time": .string(time), "level": .string("\(event.level)"),
                                                "logger": .string(label), "msg": .string("\(event.message)")]
            for (key, value) in merged { fields[key] = .string(Self.isSecret(key) ? "[redacted]" : "\(value)") }
            line = JSONValue.object(fields).jsonText
        }
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func logfmtValue(_ v: String) -> String {
        let needsQuotes = v.isEmpty || v.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0.isNewline }
        guard needsQuotes else { return v }
        return "\"" + v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    /// Installs the handler process-wide (once, at start).
    public static func bootstrap(level: Logger.Level, format: LogFormat) {
        LoggingSystem.bootstrap { StructuredLogHandler(label: $0, level: level, format: format) }
    }
}

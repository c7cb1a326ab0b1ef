import Foundation

/// The reference material beside the repository (`../shared`), as CI lays it out.
enum Fixtures {
    static var sharedDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["SSMD_SHARED_DIR"] { return URL(fileURLWithPath: dir) }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared")
    }

    /// The `response` of a recorded production answer (recordings wrap it with `_metadata`).
    static func recorded(_ name: String) throws -> Data {
        let url = sharedDirectory.appendingPathComponent("kalshi/recorded-2026-01/\(name)")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return try JSONSerialization.data(withJSONObject: object["response"]!)
    }
}

extension DecodingError {
    /// `markets[3].close_time` from a coding path.
    package var fieldPath: String {
        let context: DecodingError.Context
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): context = c
        case .keyNotFound(let key, let c):
            return DecodingError.render(c.codingPath + [key])
        @unknown default: return ""
        }
        return DecodingError.render(context.codingPath)
    }

    package var reason: String {
        switch self {
        case .typeMismatch(let t, let c): return "expected \(t): \(c.debugDescription)"
        case .valueNotFound(let t, let c): return "missing \(t): \(c.debugDescription)"
        case .keyNotFound(let k, _): return "missing required field \(k.stringValue)"
        case .dataCorrupted(let c): return c.debugDescription
        @unknown default: return "\(self)"
        }
    }

    static func render(_ path: [CodingKey]) -> String {
        var out = ""
        for key in path {
            if let i = key.intValue { out += "[\(i)]" }
            else { out += (out.isEmpty ? "" : ".") + key.stringValue }
        }
        return out
    }
}

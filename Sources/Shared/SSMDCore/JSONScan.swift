/// Where the parts of a JSON text are, without building them (on ``JSONReader``).
package enum JSONScan {
    /// The members of a top-level object, by key; nil for anything but one well-formed
    /// object (surrounded by whitespace only) with distinct keys.
    package static func topLevelMembers(_ b: UnsafeBufferPointer<UInt8>) -> [String: Range<Int>]? {
        members(ofObject: 0..<b.count, in: b)
    }

    /// The members of the object `range` holds (whitespace around it allowed), by key; nil
    /// unless it is one well-formed object with distinct keys.
    package static func members(ofObject range: Range<Int>, in b: UnsafeBufferPointer<UInt8>) -> [String: Range<Int>]? {
        var r = JSONReader(b, start: range.lowerBound, end: range.upperBound)
        var members: [String: Range<Int>] = [:]
        guard r.object(onKey: { r, key in
            r.skipSpace()
            let start = r.i
            guard r.skipValue(depth: 1) else { return false }
            return members.updateValue(start..<r.i, forKey: key) == nil
        }) else { return nil }
        r.skipSpace()
        return r.atEnd ? members : nil
    }

    /// The ranges of an array's elements; nil unless `range` is a well-formed array.
    package static func elements(ofArray range: Range<Int>, in b: UnsafeBufferPointer<UInt8>) -> [Range<Int>]? {
        var r = JSONReader(b, start: range.lowerBound, end: range.upperBound)
        var out: [Range<Int>] = []
        guard r.array(onElement: { r in
            let start = r.i
            guard r.skipValue(depth: 2) else { return false }
            out.append(start..<r.i)
            return true
        }) else { return nil }
        return r.i == range.upperBound ? out : nil
    }

    /// A string or null value: `.some(nil)` for null, nil for anything else (or a string
    /// that is not valid UTF-8).
    package static func stringOrNull(_ range: Range<Int>, in b: UnsafeBufferPointer<UInt8>) -> String?? {
        var r = JSONReader(b, start: range.lowerBound, end: range.upperBound)
        if r.literal("null") { return .some(nil) }
        guard let s = r.string() else { return nil }
        return .some(s)
    }
}

extension UInt64 {
    public var hex: String { String(self, radix: 16).leftPadded(to: 16) }
}

/// FNV-1a: a tiny stable hash (consumer names, message ids); not for security.
public enum FNV1a {
    public static func hash64(_ s: String) -> UInt64 { hash64(bytes: Array(s.utf8)) }
    public static func hash64(bytes: some Sequence<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}

extension String {
    package func leftPadded(to n: Int, with c: Character = "0") -> String {
        count >= n ? self : String(repeating: c, count: n - count) + self
    }
}

/// SplitMix64: a tiny, fast generator whose output is fixed by its seed on every platform
/// and toolchain (Swift's own `random(in:using:)` algorithms are not promised to be stable).
public struct SimRandom: Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SimRandom.mix(state)
    }

    /// A stateless 64-bit hash, used where a value must be a pure function of its inputs
    /// (prices at a time bucket, fault decisions per request number).
    public static func mix(_ x0: UInt64) -> UInt64 {
        var z = x0
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 { mix(a ^ mix(b &+ 0x632B_E59B_D9B4_E019)) }

    /// Uniform in `range` (inclusive). Modulo bias is irrelevant at these sizes.
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    public mutating func int64(_ range: ClosedRange<Int64>) -> Int64 {
        range.lowerBound + Int64(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    public mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    /// Index drawn with the given relative weights.
    public mutating func weighted(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        var x = unit() * total
        for (i, w) in weights.enumerated() {
            if x < w { return i }
            x -= w
        }
        return weights.count - 1
    }
}

/// A stable string hash (FNV-1a), because Swift's `Hasher` is seeded per process.
public func stableHash(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return h
}

/// The exchange's price level structures and their valid price bands, exactly as the table
/// in docs/getting_started_fixed_point_migration.md lists them. `price_ranges` is the source
/// of truth for valid prices; the label is informative.
public enum PriceLevelStructure: String, Sendable, CaseIterable {
    case linearCent = "linear_cent"
    case deciCent = "deci_cent"
    case taperedDeciCent = "tapered_deci_cent"
    case centerWholeEdgeHalfCent = "center_whole_edge_half_cent"
    case centerWholeEdgeQuintCent = "center_whole_edge_quint_cent"
    case centerHalfEdgeHalfCent = "center_half_edge_half_cent"
    case centerHalfEdgeQuintCent = "center_half_edge_quint_cent"
    case centerHalfEdgeDeciCent = "center_half_edge_deci_cent"
    case centerQuintEdgeQuintCent = "center_quint_edge_quint_cent"
    case centerQuintEdgeDeciCent = "center_quint_edge_deci_cent"
    case centerCentiEdgeCentiCent = "center_centi_edge_centi_cent"
    case centerDeciEdgeCentiCent = "center_deci_edge_centi_cent"

    /// Bands as (start, end, step) in ten-thousandths of a dollar.
    public var bands: [(start: Int64, end: Int64, step: Int64)] {
        func tapered(_ edge: Int64, _ center: Int64) -> [(Int64, Int64, Int64)] {
            [(0, 1000, edge), (1000, 9000, center), (9000, 10_000, edge)]
        }
        switch self {
        case .linearCent: return [(0, 10_000, 100)]
        case .deciCent: return [(0, 10_000, 10)]
        case .taperedDeciCent: return tapered(10, 100)
        case .centerWholeEdgeHalfCent: return tapered(50, 100)
        case .centerWholeEdgeQuintCent: return tapered(20, 100)
        case .centerHalfEdgeHalfCent: return [(0, 10_000, 50)]
        case .centerHalfEdgeQuintCent: return tapered(20, 50)
        case .centerHalfEdgeDeciCent: return tapered(10, 50)
        case .centerQuintEdgeQuintCent: return [(0, 10_000, 20)]
        case .centerQuintEdgeDeciCent: return tapered(10, 20)
        case .centerCentiEdgeCentiCent: return [(0, 10_000, 1)]
        case .centerDeciEdgeCentiCent: return [(0, 100, 1), (100, 9900, 10), (9900, 10_000, 1)]
        }
    }

    /// Whether `price` (ten-thousandths) lies on this structure's grid.
    public func isValid(_ price: Int64) -> Bool {
        guard price >= 0, price <= 10_000 else { return false }
        for b in bands where price >= b.start && price <= b.end {
            if (price - b.start) % b.step == 0 { return true }
        }
        return false
    }

    /// The tick the simulator quotes in: 0.1¢ where every 0.1¢ price in $0.01–$0.99 is on
    /// the grid, otherwise whole cents (valid in every structure).
    public var quoteTick: Int64 {
        switch self {
        case .deciCent, .centerCentiEdgeCentiCent, .centerDeciEdgeCentiCent: return 10
        default: return 100
        }
    }

    /// `[{"start":"0.0000","end":"1.0000","step":"0.0100"}, …]`, rendered once.
    public var rangesJSON: [UInt8] { Self.rendered[self]! }

    static let rendered: [PriceLevelStructure: [UInt8]] = {
        var out: [PriceLevelStructure: [UInt8]] = [:]
        for s in PriceLevelStructure.allCases {
            var w = JSONWriter(capacity: 160)
            w.raw("[")
            for (i, b) in s.bands.enumerated() {
                if i > 0 { w.comma() }
                w.raw("{\"start\":"); w.dollars(b.start)
                w.raw(",\"end\":"); w.dollars(b.end)
                w.raw(",\"step\":"); w.dollars(b.step)
                w.raw("}")
            }
            w.raw("]")
            out[s] = w.bytes
        }
        return out
    }()
}

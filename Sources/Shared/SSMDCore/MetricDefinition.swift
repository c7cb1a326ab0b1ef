/// One metric a program exposes: its Prometheus name, type, label names, meaning and (for a
/// histogram) bucket upper bounds.
///
/// Each module that emits metrics declares its own next to the code that emits them; the
/// daemon kit gathers them so the Prometheus registry gets each metric's help text and
/// buckets, and docs/metrics.md lists the same set (a test keeps the two equal). Emitting code
/// passes label values in the order of `labels`; values must come from a small fixed set (a
/// path template, a status code, a schedule name), never from data such as a ticker.
public struct MetricDefinition: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable { case counter, gauge, histogram }

    public let name: String
    public let kind: Kind
    public let labels: [String]
    public let help: String
    /// Upper bounds of a histogram's buckets (seconds for durations), ascending; `+Inf` is implied.
    public let buckets: [Double]

    public init(name: String, kind: Kind, labels: [String] = [], help: String, buckets: [Double] = []) {
        precondition(kind == .histogram || buckets.isEmpty, "only a histogram has buckets")
        precondition(kind != .histogram || !buckets.isEmpty, "a histogram needs buckets")
        self.name = name; self.kind = kind; self.labels = labels; self.help = help; self.buckets = buckets.sorted()
    }

    public static func counter(_ name: String, labels: [String] = [], help: String) -> MetricDefinition {
        MetricDefinition(name: name, kind: .counter, labels: labels, help: help)
    }

    public static func gauge(_ name: String, labels: [String] = [], help: String) -> MetricDefinition {
        MetricDefinition(name: name, kind: .gauge, labels: labels, help: help)
    }

    public static func histogram(_ name: String, labels: [String] = [], buckets: [Double], help: String) -> MetricDefinition {
        MetricDefinition(name: name, kind: .histogram, labels: labels, help: help, buckets: buckets)
    }

    /// Label pairs for `values` given in the order of `labels`.
    public func dimensions(_ values: String...) -> [(String, String)] {
        precondition(values.count == labels.count, "\(name) takes labels \(labels)")
        return Array(zip(labels, values))
    }

    public var description: String { name }
}

extension Duration {
    /// Whole nanoseconds (saturating), as swift-metrics timers take them.
    public var wholeNanoseconds: Int64 {
        let (s, atto) = components
        let (ns, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (s < 0 ? .min : .max) : ns &+ atto / 1_000_000_000
    }
}

/// A setting that failed validation: one line naming the flag, its environment variable and
/// what is wrong. Daemons print it and exit 2.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var setting: String
    public var problem: String
    public init(setting: String, problem: String) { self.setting = setting; self.problem = problem }
    public var description: String { "invalid setting \(setting): \(problem)" }
}

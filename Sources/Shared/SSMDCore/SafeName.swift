/// Names NATS restricts to a few characters (durable consumers: no `.`; KV keys: only
/// `[-/_=.a-zA-Z0-9]`): a readable ASCII prefix of the original plus a hash of all of it.
public enum SafeName {
    public static func make(prefix: String, from name: String, separator: String = "-") -> String {
        let readable = String(name.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }
            .prefix(24).map(Character.init))
        return "\(prefix)\(separator)\(readable.isEmpty ? "x" : readable)-\(FNV1a.hash64(name).hex)"
    }
}

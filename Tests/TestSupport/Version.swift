public enum TestSupportVersion { public static let version = "0.1.0" }

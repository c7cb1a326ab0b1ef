public enum SSMD { public static let version = "0.1.0" }

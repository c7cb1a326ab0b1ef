public enum KalshiSimulatorVersion { public static let version = "0.1.0" }

import CBuildInfo
import SSMDCore

/// What a binary says about itself: `--version` and the `ssmd_build_info` metric.
public enum BuildInfo {
    /// The release version, shared by every program of the package.
    public static let version = SSMD.version

    /// The commit the build was made from, when the build was told (SSMD_BUILD_COMMIT at build
    /// time, set by scripts/run and the Dockerfile); nil otherwise. Never read from git at run
    /// time: a binary says what it was built from, not what the directory it runs in holds.
    public static let commit: String? = {
        let c = String(cString: ssmd_build_commit())
        return c.isEmpty ? nil : c
    }()

    /// `<program> <version> (<commit>)`, or `<program> <version>` when the commit is not known.
    public static func versionLine(program: String) -> String {
        "\(program) \(version)" + (commit.map { " (\($0))" } ?? "")
    }
}

import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import Logging
import DaemonKit
import NATSClient
import SSMDCore
import WireContract

/// `ssmd watch <filter>`: the last value of every subject matching the filter, then live
/// updates, one line each (`--json`: the raw payload). Stops on SIGINT/SIGTERM (exit 0).
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print the last value of every matching subject of SSMD_SECMASTER, then live updates.",
        discussion: """
            Examples: ssmd watch 'ssmd.market.Basketball.>'   ssmd watch 'ssmd.market.S%26P.>' --json
            Tokens are percent-encoded (see docs/connectors.md). After the last values, a line
            "-- N last values; live updates follow" goes to stderr.
            """)
    @OptionGroup var common: CommonOptions
    @Argument(help: "Subject filter in stream SSMD_SECMASTER (ssmd.market.<tag>.>, ssmd.event.>, ssmd.series.>, …)")
    var filter: String = "ssmd.market.>"
    @Flag(name: .customLong("json"), help: "Print each payload as it is (one JSON object a line)")
    var json = false
    @Flag(name: .customLong("new-only"), help: "Skip the last values; only updates published from now on")
    var newOnly = false

    func validate() throws {
        let tokens = filter.split(separator: ".", omittingEmptySubsequences: false)
        guard tokens.count >= 2, tokens[0] == "ssmd", !filter.contains(where: \.isWhitespace), !tokens.contains(where: \.isEmpty) else {
            throw ValidationError("the filter must be a subject of ssmd's secmaster stream such as 'ssmd.market.Basketball.>', not '\(filter)'")
        }
        if let i = tokens.firstIndex(of: ">"), i != tokens.count - 1 { throw ValidationError("'>' must be the last token of '\(filter)'") }
    }

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        let r = SettingsResolver(environment: env.merging(["SSMD_LOG_LEVEL": env["SSMD_LOG_LEVEL"] ?? "warning"]) { a, _ in a })
        let c = try common.resolve(connectionName: "ssmd-watch", r)
        let logger = bootstrapLogging(c)
        var options = c.nats
        options.retryOnFailedConnect = false
        let connection = try await NATSConnection.connect(options: options, logger: logger)
        defer { connection.close() }
        let js = try connection.jetStream()

        let stop = StopFlag()
        let sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { stop.set() }
            s.resume()
            return s
        }
        defer { sources.forEach { $0.cancel() } }

        let (filter, newOnly, json) = (self.filter, self.newOnly, self.json)
        let watch = newOnly ? try await js.orderedWatchNew(stream: Streams.secmaster, filterSubject: filter)
            : try await js.orderedWatch(stream: Streams.secmaster, filterSubject: filter, deliverLastPerSubject: true)
        defer { watch.close() }
        var snapshotDone = newOnly
        var count = 0
        if newOnly { Self.stderr("-- live updates of \(filter) follow") }
        while !stop.isSet {
            let message = try await watch.next(timeout: .milliseconds(250))
            guard let message else {
                if !snapshotDone { snapshotDone = true; Self.stderr("-- \(count) last values; live updates follow") }
                continue
            }
            count += 1
            Self.stdout(json ? String(decoding: message.data, as: UTF8.self) : Self.line(subject: message.subject, payload: message.data))
            if !snapshotDone && message.pending == 0 {
                snapshotDone = true
                Self.stderr("-- \(count) last values; live updates follow")
            }
        }
    }

    /// One human line per update: market → ticker, status, prices; other kinds → a summary.
    static func line(subject: String, payload: [UInt8]) -> String {
        guard let o = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any] else {
            return "\(subject)  (not JSON: \(payload.count) bytes)"
        }
        func s(_ d: [String: Any]?, _ k: String) -> String { (d?[k] as? String) ?? "-" }
        switch o["kind"] as? String {
        case "market":
            let m = o["market"] as? [String: Any]
            var line = "\(s(m, "ticker"))  \(s(m, "status"))  yes \(s(m, "yes_bid_dollars"))/\(s(m, "yes_ask_dollars"))"
            line += "  no \(s(m, "no_bid_dollars"))/\(s(m, "no_ask_dollars"))  last \(s(m, "last_price_dollars"))"
            line += "  vol \(s(m, "volume_fp"))  [\(s(o, "tag")) \(s(o, "series_ticker"))] \(s(o, "fetched_at"))"
            if let result = m?["result"] as? String, !result.isEmpty { line += "  result \(result)" }
            return line
        case "event":
            let e = o["event"] as? [String: Any]
            return "event \(s(e, "event_ticker"))  \(s(e, "title"))  [\(s(e, "series_ticker"))]"
        case "series":
            let x = o["series"] as? [String: Any]
            return "series \(s(x, "ticker"))  \(s(x, "category"))  \(((x?["tags"] as? [String]) ?? []).joined(separator: ","))  \((o["is_game"] as? Bool) == true ? "game" : "")"
        case "catalog":
            return "catalog \(s(o, "category"))  \((o["series_tickers"] as? [Any])?.count ?? 0) series  \(s(o, "fetched_at"))"
        default:
            return "\(subject)  \(o["kind"] as? String ?? "?")"
        }
    }

    static func stdout(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
    static func stderr(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}

final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

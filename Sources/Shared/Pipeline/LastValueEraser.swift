import NATSClient
import SSMDCore
import WireContract

/// Removes last values from `SSMD_SECMASTER` (one message per subject) by deleting each
/// subject's message by sequence. Never a purge with a subject filter: nats-server 2.9
/// applies those to consumers' positions as well, and the writer's consumer then skipped
/// messages pending on other subjects (seen in bench-writer: 200,000 updates never written).
struct LastValueEraser: Sendable {
    let js: JetStream

    /// Deletes the last message of every subject matching `filter` whose last token, decoded,
    /// `keep` accepts (all of them without `keep`); returns how many it deleted.
    func erase(matching filter: String, keep: (String) -> Bool = { _ in true }) async throws -> Int {
        let subjects = try await js.streamInfo(name: Streams.secmaster, subjectsFilter: filter).subjects.keys
        var erased = 0
        for subject in subjects.sorted() {
            let token = subject.split(separator: ".").last.map(String.init) ?? ""
            let last = (try? SubjectToken.decode(token)) ?? token
            guard keep(last), let message = try await js.lastMessage(stream: Streams.secmaster, subject: subject) else { continue }
            try await js.deleteMessage(stream: Streams.secmaster, sequence: message.sequence)
            erased += 1
        }
        return erased
    }
}

import Logging
import NATSClient
import SSMDCore
import WireContract

/// Sets a message aside on `ssmd.dlq.<stage>` with the reason it could not be processed —
/// the one dead-letter path of every daemon. The message is terminated only after its
/// dead letter is stored; when that fails it is handed back for redelivery instead, so
/// nothing is ever dropped.
public struct DeadLetterPublisher: Sendable {
    public let stage: String
    private let publisher: ReliablePublisher

    public init(stage: String, js: JetStream, logger: Logger) {
        self.stage = stage
        self.publisher = ReliablePublisher(js: js, logger: logger)
    }

    /// True when the message was set aside (its dead letter stored, the message terminated).
    @discardableResult
    public func setAside(_ message: JetStreamMessage, reason: String, logger: Logger) async -> Bool {
        let letter = DeadLetter(stage: stage, reason: reason, subject: message.subject,
                                deliveries: message.deliveryCount, failedAt: .now(), payload: message.data)
        do {
            try await publisher.publishAll([OutgoingMessage(subject: Subjects.deadLetter(stage: stage), data: letter.encoded(),
                                                            msgId: "dlq:\(stage):\(message.streamSequence)")])
            try message.term()
            logger.error("message set aside on the dead-letter subject", metadata: [
                "subject": "\(message.subject)", "stream_seq": "\(message.streamSequence)", "reason": "\(reason)"])
            return true
        } catch {
            logger.error("could not dead-letter message; leaving it for redelivery", metadata: ["reason": "\(reason)", "error": "\(error)"])
            try? message.nak(delay: .seconds(5))
            return false
        }
    }
}

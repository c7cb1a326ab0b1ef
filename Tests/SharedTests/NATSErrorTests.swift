import Testing
import NATSClient

/// Which NATS failures a caller may wait out and which it must report.
@Suite struct NATSErrorTests {
    @Test func electionsAndTimeoutsAreTransientRefusalsAreNot() {
        // A group electing a leader after a node died ("JetStream system temporarily unavailable").
        #expect(NATSError.jetStream(code: 1, errorCode: 10008, message: "consumer info").isTransient)
        #expect(NATSError.timeout("consumer names").isTransient)
        #expect(NATSError.connection("nats://127.0.0.1:4222").isTransient)
        #expect(!NATSError.jetStream(code: 1, errorCode: 10059, message: "stream not found").isTransient)
        #expect(!NATSError.jetStream(code: 1, errorCode: 10100, message: "filter taken").isTransient)
        #expect(!NATSError.refused("authorization violation").isTransient)
        #expect(!NATSError.notFound("consumer SSMD_WORK/work-Fed").isTransient)
    }
}

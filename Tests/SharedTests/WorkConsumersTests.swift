import Testing
@testable import Pipeline
import WireContract

/// Which consumers a market-fetcher replica pulls from, told by the work stream's subjects.
@Suite struct WorkConsumersTests {
    func consumer(_ tag: String) -> WorkConsumers.Consumer {
        .init(name: Streams.workConsumer(tag: tag), subject: Subjects.work(tag: tag), ackWait: .seconds(30))
    }

    @Test func consumersWithMessagesAreReady() {
        let all = [consumer("Fed"), consumer("S&P"), WorkConsumers.Consumer(name: "wild", subject: nil, ackWait: .seconds(1))]
        let ready = WorkConsumers.withWork(all, subjects: [Subjects.work(tag: "S&P"): 2, Subjects.work(tag: "Fed"): 0])
        // A consumer whose subject cannot be told is always probed.
        #expect(ready.map(\.name) == [Streams.workConsumer(tag: "S&P"), "wild"])
    }
}

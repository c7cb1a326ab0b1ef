import Testing
@Test func writerTestsPending() { #expect(Bool(true)) }

import Testing
@Test func dataAPIPending() { #expect(Bool(true)) }

import Foundation
import Testing
@testable import DaemonKit
@testable import KalshiAPI

/// The cursor paginator lives in the exchange client (KalshiAPI), not in a pure module.
@Suite struct PaginationAndRetryTests {
    @Test func stopsOnEmptyCursor() throws {
        var p = CursorPaginator(endpoint: "/markets")
        #expect(try p.next(after: "a") == "a")
        #expect(try p.next(after: "") == nil)
    }

    @Test func refusesARepeatingCursor() throws {
        var p = CursorPaginator(endpoint: "/markets")
        _ = try p.next(after: "a")
        _ = try p.next(after: "b")
        #expect(throws: ExchangeError.self) { try p.next(after: "a") }
    }

    @Test func boundsThePageCount() throws {
        var p = CursorPaginator(endpoint: "/markets", maxPages: 3)
        _ = try p.next(after: "1")
        _ = try p.next(after: "2")
        #expect(throws: ExchangeError.self) { try p.next(after: "3") }
    }
}

/// Split from PureTests' HostileStateTests: setting parsers live in DaemonKit.
@Suite struct AbsurdSettingTests {
    @Test func absurdDurationsAreRejectedNotCrashes() {
        #expect(SettingsResolver.parseDuration("1e30s") == nil)
        #expect(SettingsResolver.parseDuration("99999999999999999999") == nil)
    }
}

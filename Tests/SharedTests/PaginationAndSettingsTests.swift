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

/// Settings as operators give them: repeated or comma-separated flags, the conventional
/// environment names, and a budget that matches whether requests are signed.
@Suite struct SettingConventionTests {
    @Test func aTagFlagWithCommasIsSeveralTags() {
        let r = SettingsResolver(environment: [:])
        #expect(r.value(Settings.tag, ["Basketball,Hockey"]) == ["Basketball", "Hockey"])
        #expect(r.value(Settings.tag, ["Basketball", " Hockey , Soccer"]) == ["Basketball", "Hockey", "Soccer"])
        #expect(SettingsResolver(environment: ["SSMD_TAG": "A, B,,C"]).value(Settings.tag, []) == ["A", "B", "C"])
        #expect(SettingsResolver(environment: ["SSMD_TAG": "A"]).value(Settings.tag, ["X"]) == ["X"], "the flag wins")
    }

    @Test func conventionalNamesAreReadAfterSSMDOnes() throws {
        let conventional = SettingsResolver(environment: ["DATABASE_URL": "postgres://u@h/db", "NATS_URL": "nats://n:4222"])
        #expect(try DatabaseOptions.parse([]).resolve(conventional) == "postgres://u@h/db")
        #expect(try CommonOptions.parse([]).resolve(connectionName: "t", conventional).nats.urls == ["nats://n:4222"])
        let both = SettingsResolver(environment: ["DATABASE_URL": "postgres://u@h/a", "SSMD_DATABASE_URL": "postgres://u@h/b"])
        #expect(try DatabaseOptions.parse([]).resolve(both) == "postgres://u@h/b", "SSMD_* wins")
    }

    @Test func withoutAKeyTheBudgetIsTheUnsignedTier() throws {
        let unsigned = try ExchangeOptions.parse([]).resolve(SettingsResolver(environment: [:]))
        #expect(unsigned.signer == nil)
        #expect(unsigned.tokensPerSecond == 60)
        let chosen = try ExchangeOptions.parse([]).resolve(SettingsResolver(environment: ["SSMD_RATE_TIER": "basic"]))
        #expect(chosen.tokensPerSecond == 200, "an explicit tier is kept")
    }
}

@Suite struct DurationUnitTests {
    @Test func daysAreADurationUnit() {
        #expect(SettingsResolver.parseDuration("30d") == .seconds(30 * 86_400))
        #expect(SettingsResolver.parseDuration("1.5d") == .seconds(129_600))
        #expect(SettingsResolver.parseDuration("d") == nil)
    }
}

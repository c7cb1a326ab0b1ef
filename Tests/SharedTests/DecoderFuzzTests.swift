import Foundation
import Testing
import PureTestSupport
@testable import CurlHTTP
@testable import DaemonKit
@testable import KalshiAPI
@testable import KalshiModels
@testable import SSMDCore
@testable import SyncCore
@testable import WireContract
@testable import WriterCore

/// A short, bounded, seeded fuzz run of every decoder that meets outside input: exchange
/// responses (seeded from the recorded production answers), ssmd message payloads, schedule
/// files and subject tokens. Each mutated input must either decode or fail with a typed
/// error — never crash, never hang.
@Suite(.ownThread) struct DecoderFuzzTests {
    /// xorshift64*: reproducible without Foundation's random source.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    static let interesting: [[UInt8]] = ["null", "\"\"", "-1", "1e400", "\"0.5600\"", "{}", "[]", "true", "\"\u{0}\"", "\"2026-13-45T99:99:99Z\"",
                                         "\"\\ud800\"", "9223372036854775808", "\"x\"", "[[[[[[[[]]]]]]]]"].map { Array($0.utf8) }

    static func mutate(_ input: [UInt8], _ rng: inout Rng) -> [UInt8] {
        var b = input
        for _ in 0...rng.below(4) {
            guard !b.isEmpty else { return Self.interesting[rng.below(Self.interesting.count)] }
            let i = rng.below(b.count)
            switch rng.below(6) {
            case 0: b[i] = UInt8(truncatingIfNeeded: rng.next())                       // flip a byte
            case 1: b.removeSubrange(i..<min(b.count, i + 1 + rng.below(16)))         // delete a run
            case 2: b = Array(b[..<i])                                                  // truncate
            case 3: b.insert(contentsOf: Self.interesting[rng.below(Self.interesting.count)], at: i)
            case 4: let j = rng.below(b.count); b.swapAt(i, j)
            default: b.insert(contentsOf: b[i..<min(b.count, i + 1 + rng.below(64))], at: rng.below(b.count))  // duplicate a run
            }
        }
        return b
    }

    func fuzz<T: Decodable>(_ type: T.Type, seedInputs: [[UInt8]], iterations: Int, seed: UInt64) {
        var rng = Rng(state: seed)
        var decoded = 0, rejected = 0
        for i in 0..<iterations {
            let input = Self.mutate(seedInputs[i % seedInputs.count], &rng)
            do {
                _ = try ExchangeClient.interpret(HTTPResponse(status: 200, body: input, contentType: nil, elapsedSeconds: 0), endpoint: "fuzz", as: T.self)
                decoded += 1
            } catch let e as ExchangeError {
                guard case .decoding = e else { Issue.record("unexpected error kind \(e)"); return }
                rejected += 1
            } catch {
                Issue.record("untyped error \(error)")
            }
        }
        #expect(decoded + rejected == iterations)
        #expect(rejected > 0, "the mutations never produced bad input")
    }

    @Test func exchangeResponses() throws {
        struct SeriesList: Decodable { var series: [Series] }
        fuzz(MarketsPage.self, seedInputs: [Array(try Fixtures.recorded("markets_list_response.json"))], iterations: 1500, seed: 1)
        fuzz(EventsPage.self, seedInputs: [Array(try Fixtures.recorded("events_list_response.json"))], iterations: 1500, seed: 2)
        fuzz(SeriesList.self, seedInputs: [Array(try Fixtures.recorded("series_list_response.json").prefix(20_000)) + Array("]}".utf8)], iterations: 300, seed: 3)
        fuzz(TagsByCategories.self, seedInputs: [Array(try Fixtures.recorded("tags_by_categories_response.json"))], iterations: 1500, seed: 4)
        fuzz(SportFilters.self, seedInputs: [Array(try Fixtures.recorded("filters_by_sport_response.json"))], iterations: 1500, seed: 5)
    }

    @Test func messagePayloads() throws {
        let market = try JSONDecoder().decode(Market.self, from: Data(CurrentFormatDecodingTests.documentedMarket.utf8))
        let seeds: [[UInt8]] = [
            try MessageCodec.encode(MarketMessage(fetchedAt: .seconds(1_800_000_000), tag: "S&P", seriesTicker: "KXBTCD", market: market)),
            try MessageCodec.encode(WorkItem(seriesTicker: "KXNBAGAME", category: "Sports", tags: ["Basketball"], routingTag: "Basketball",
                                             isGame: true, schedule: "all", cycleId: "all-1", issuedAt: .seconds(1))),
        ]
        var rng = Rng(state: 9)
        for i in 0..<3000 {
            let input = Self.mutate(seeds[i % 2], &rng)
            do {
                if i % 2 == 0 { _ = try MessageCodec.decode(MarketMessage.self, from: input, subject: "fuzz") }
                else { _ = try MessageCodec.decode(WorkItem.self, from: input, subject: "fuzz") }
            } catch is MessageDecodingError {
            } catch {
                Issue.record("untyped error from a payload: \(error)")
            }
        }
        // Incremental sync's payloads: a delta work item carrying markets, a series snapshot
        // as the writer reads it, and the planner's state from the KV bucket.
        var delta = WorkItem(seriesTicker: "KXNBAGAME", category: "Sports", tags: ["Basketball"], routingTag: "Basketball",
                             isGame: true, schedule: "all", cycleId: "all-2", issuedAt: .seconds(2), mode: .delta, markets: [market, market])
        delta.exchangeTime = .seconds(3)
        let snapshot = SeriesSnapshotMessage(fetchedAt: .seconds(4), seriesTicker: "KX.A", closedSince: .seconds(1),
                                             marketTickers: ["KX.A-1-X", "KX.A-2-Y"], eventTickers: ["KX.A-1"])
        let state = SyncPlanState(feedSince: .seconds(5), lastFull: ["KXNBAGAME": 6, "KX.A": 7])
        let more: [[UInt8]] = [try MessageCodec.encode(delta), try MessageCodec.encode(snapshot), try JSONCodec.encode(state)]
        for i in 0..<3000 {
            let input = Self.mutate(more[i % 3], &rng)
            do {
                switch i % 3 {
                case 0: _ = try MessageCodec.decode(WorkItem.self, from: input, subject: "fuzz")
                case 1: _ = try SecmasterPayload.decode(subject: "ssmd.snapshot.KX%2EA", data: input)
                default: _ = try JSONCodec.decode(SyncPlanState.self, from: input)
                }
            } catch is MessageDecodingError {
            } catch is DecodingError {
                if i % 3 != 2 { Issue.record("a payload error without its subject: DecodingError") }
            } catch {
                Issue.record("untyped error from a payload: \(error)")
            }
        }
    }

    @Test func scheduleFilesAndSubjectTokens() throws {
        let seed = Array(ScheduleFileTests.repositorySchedules.utf8)
        var rng = Rng(state: 11)
        for _ in 0..<500 {
            let input = String(decoding: Self.mutate(seed, &rng), as: UTF8.self)
            do { _ = try ScheduleFile.parse(input) } catch is ConfigurationError {} catch { Issue.record("untyped error from a schedule file: \(error)") }
        }
        for _ in 0..<3000 {
            let token = String(decoding: Self.mutate(Array("S%26P%20500-KX%2E5".utf8), &rng), as: UTF8.self)
            if let decoded = try? SubjectToken.decode(token), !decoded.isEmpty { #expect(try SubjectToken.decode(SubjectToken.encode(decoded)) == decoded) }
        }
    }
}

import Foundation
import SSMDCore

/// A list response of the exchange — `{"markets": [ … ], "cursor": "…"}` and the like —
/// that can be decoded one element at a time.
package protocol ListPage: Decodable {
    associatedtype Element: Decodable
    /// The member holding the list.
    static var listKey: String { get }
    init(elements: [Element], cursor: String?)
}

/// Decodes a ``ListPage`` element by element.
///
/// Why: Foundation's `JSONDecoder` indexes the whole body before it decodes anything, at
/// several times the body's size: a large category's series (0.75 MB) cost 6.5 MB at once,
/// most of a series-fetcher's peak memory; a page of 1,000 markets is 1.3 MB.
/// Here the top level is only scanned (nothing is built), and each element is decoded from
/// its own slice — in one pass by its ``FastListElement`` decoder when it has one (markets,
/// events with nested markets) and the shape is today's, else by the same `Decodable` code —
/// so the index is one element's at most.
///
/// The result is the value `JSONDecoder` gives for the whole body. Anything unusual —
/// malformed JSON, a duplicate top-level key, the list missing, null or not an array, a
/// cursor that is not a string, an element that fails to decode — returns nil, and the
/// caller decodes the whole body as before, which yields that value or the error naming
/// the problem. Top-level members other than the list and `cursor` are checked for JSON
/// syntax only, as they are ignored.
package enum ListPageDecoder {
    package static func decode<P: ListPage>(_ type: P.Type, from body: [UInt8]) -> P? {
        body.withUnsafeBufferPointer { buffer -> P? in
            guard let members = JSONScan.topLevelMembers(buffer),
                  let list = members[P.listKey], let ranges = JSONScan.elements(ofArray: list, in: buffer) else { return nil }
            let decoder = JSONDecoder()
            var cursor: String?
            if let c = members["cursor"] {
                guard let s = JSONScan.stringOrNull(c, in: buffer) else { return nil }
                cursor = s
            }
            var elements: [P.Element] = []
            elements.reserveCapacity(ranges.count)
            let fast = P.Element.self as? any FastListElement.Type
            for r in ranges {
                if let fast, let e = fast.fastDecode(buffer, r) as? P.Element {
                    elements.append(e)
                    continue
                }
                guard let e = try? decoder.decode(P.Element.self, from: Data(UnsafeBufferPointer(rebasing: buffer[r]))) else { return nil }
                elements.append(e)
            }
            return P(elements: elements, cursor: cursor)
        }
    }

    /// `decode` for a type known only at run time (`ExchangeClient.interpret`'s `T`).
    package static func decodeIfListPage<T>(_ type: T.Type, from body: [UInt8]) -> T? {
        guard let pageType = type as? any ListPage.Type else { return nil }
        return decode(pageType, from: body) as? T
    }
}

/// A list element with a decoder faster than its `Decodable` for the shapes the exchange
/// sends today; nil means "not sure", and the element is decoded by `Decodable` instead.
/// For what it accepts, the value equals the `Decodable` one.
package protocol FastListElement {
    static func fastDecode(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Self?
}

extension Market: FastListElement {
    package static func fastDecode(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Market? {
        MarketFastDecoding.decode(b, range)
    }
}

extension Event: FastListElement {
    package static func fastDecode(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Event? {
        EventFastDecoding.decode(b, range)
    }
}

import Crypto
import Foundation
import _CryptoExtras

/// Verifies the exchange's request signatures (docs/getting_started_api_keys.md):
/// `KALSHI-ACCESS-SIGNATURE` is base64 RSA-PSS (SHA-256, MGF1-SHA256, salt length = digest
/// length) over `KALSHI-ACCESS-TIMESTAMP` (unix ms) + method + path, the path being the
/// request's URL path *without* the query, as sent (including `/trade-api/v2`).
public struct RequestAuthenticator: Sendable {
    /// Key ID → public key. Empty = signatures are not verified (any request carrying
    /// `KALSHI-ACCESS-KEY` counts as signed, the simulator's behaviour before verification).
    public var keys: [String: _RSA.Signing.PublicKey]
    /// Largest accepted |wall clock − KALSHI-ACCESS-TIMESTAMP|, in seconds.
    public var maxSkewSeconds: Double

    public init(keys: [String: _RSA.Signing.PublicKey] = [:], maxSkewSeconds: Double = 30) {
        self.keys = keys
        self.maxSkewSeconds = maxSkewSeconds
    }

    /// From `--public-key KEYID=PATH.pem` values.
    public init(keySpecs: [String], maxSkewSeconds: Double = 30) throws {
        var keys: [String: _RSA.Signing.PublicKey] = [:]
        for spec in keySpecs {
            let (id, key) = try RequestAuthenticator.loadKey(spec)
            keys[id] = key
        }
        self.init(keys: keys, maxSkewSeconds: maxSkewSeconds)
    }

    public var verifies: Bool { !keys.isEmpty }

    public enum Outcome: Equatable, Sendable {
        /// No signature headers: the unsigned budget.
        case unsigned
        /// A valid signature (or any key header when verification is off): the signed budget.
        case signed(keyID: String)
        /// Answer 401 with this message.
        case rejected(String)
    }

    /// `key`, `timestamp`, `signature` are the three header values (nil = absent).
    public func check(key: String?, timestamp: String?, signature: String?,
                      method: String, path: String, nowMs: Int64) -> Outcome {
        guard verifies else { return key != nil ? .signed(keyID: key!) : .unsigned }
        if key == nil && timestamp == nil && signature == nil { return .unsigned }
        guard let key, !key.isEmpty else { return .rejected("missing KALSHI-ACCESS-KEY header") }
        guard let timestamp, !timestamp.isEmpty else { return .rejected("missing KALSHI-ACCESS-TIMESTAMP header") }
        guard let signature, !signature.isEmpty else { return .rejected("missing KALSHI-ACCESS-SIGNATURE header") }
        guard let publicKey = keys[key] else { return .rejected("unknown API key") }
        guard let ts = Int64(timestamp) else { return .rejected("invalid KALSHI-ACCESS-TIMESTAMP: must be unix milliseconds") }
        let skewMs = Double(ts - nowMs).magnitude
        guard skewMs <= maxSkewSeconds * 1000 else {
            return .rejected("KALSHI-ACCESS-TIMESTAMP is more than \(Int(maxSkewSeconds)) s away from the server clock")
        }
        guard let raw = Data(base64Encoded: signature) else { return .rejected("invalid KALSHI-ACCESS-SIGNATURE: not base64") }
        let pathOnly = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? path
        let message = Data((timestamp + method + pathOnly).utf8)
        // `.PSS` is salt length = digest length with MGF1 over the same hash (SHA-256 here).
        guard publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: raw), for: message, padding: .PSS) else {
            return .rejected("invalid signature")
        }
        return .signed(keyID: key)
    }

    /// Loads `KEYID=PATH.pem` (a PEM public key: SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`).
    public static func loadKey(_ spec: String) throws -> (id: String, key: _RSA.Signing.PublicKey) {
        guard let eq = spec.firstIndex(of: "="), eq != spec.startIndex else {
            throw AuthConfigurationError("--public-key expects KEYID=PATH.pem, got \(spec)")
        }
        let id = String(spec[..<eq])
        let path = String(spec[spec.index(after: eq)...])
        guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw AuthConfigurationError("--public-key \(id): cannot read \(path)")
        }
        do {
            return (id, try _RSA.Signing.PublicKey(pemRepresentation: pem))
        } catch {
            throw AuthConfigurationError("--public-key \(id): \(path) is not an RSA public key in PEM: \(error)")
        }
    }
}

public struct AuthConfigurationError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

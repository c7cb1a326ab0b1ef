import Crypto
import Foundation
import _CryptoExtras
import SSMDCore

/// Signs exchange requests with a Kalshi API key so they draw on the account's tier budget
/// instead of the (lower) unsigned one: RSA-PSS with SHA-256 (MGF1-SHA256, salt length =
/// digest length) over `timestamp_ms + METHOD + path` — the path without its query
/// (docs/getting_started_api_keys.md).
///
/// The private key is read once from a PEM file; neither it nor the file's content ever
/// appears in an error message or a log line (only the path does).
public struct KalshiKeySigner: RequestSigner {
    public let keyID: String
    private let key: _RSA.Signing.PrivateKey

    public struct KeyError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(keyID: String, privateKeyPath: String) throws {
        guard !keyID.isEmpty else { throw KeyError(description: "API key id is empty") }
        let pem: String
        do {
            pem = try String(contentsOfFile: privateKeyPath, encoding: .utf8)
        } catch {
            throw KeyError(description: "cannot read private key file \(privateKeyPath)")
        }
        do {
            self.key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw KeyError(description: "private key file \(privateKeyPath) is not an RSA private key in PEM format")
        }
        self.keyID = keyID
    }

    public init(keyID: String, key: _RSA.Signing.PrivateKey) {
        self.keyID = keyID
        self.key = key
    }

    public func headers(method: String, path: String) throws -> [(String, String)] {
        try headers(method: method, path: path, timestampMilliseconds: Timestamp.now().microsecondsSinceEpoch / 1000)
    }

    public func headers(method: String, path: String, timestampMilliseconds: Int64) throws -> [(String, String)] {
        let bare = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? path
        let ts = String(timestampMilliseconds)
        let message = Data((ts + method.uppercased() + bare).utf8)
        let signature = try key.signature(for: message, padding: .PSS)
        return [("KALSHI-ACCESS-KEY", keyID), ("KALSHI-ACCESS-TIMESTAMP", ts),
                ("KALSHI-ACCESS-SIGNATURE", signature.rawRepresentation.base64EncodedString())]
    }
}

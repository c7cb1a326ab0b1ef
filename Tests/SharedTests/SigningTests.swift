import Foundation
import Testing
import _CryptoExtras
@testable import KalshiAPI

@Suite struct RequestSigningTests {
    @Test func signsTimestampMethodAndPathWithoutQuery() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let signer = KalshiKeySigner(keyID: "key-1", key: key)
        let headers = try signer.headers(method: "get", path: "/trade-api/v2/markets?limit=5&cursor=x", timestampMilliseconds: 1_700_000_000_123)
        let h = Dictionary(uniqueKeysWithValues: headers)
        #expect(h["KALSHI-ACCESS-KEY"] == "key-1")
        #expect(h["KALSHI-ACCESS-TIMESTAMP"] == "1700000000123")
        let sig = try _RSA.Signing.RSASignature(rawRepresentation: Data(base64Encoded: h["KALSHI-ACCESS-SIGNATURE"]!)!)
        #expect(key.publicKey.isValidSignature(sig, for: Data("1700000000123GET/trade-api/v2/markets".utf8), padding: .PSS))
        #expect(!key.publicKey.isValidSignature(sig, for: Data("1700000000123GET/trade-api/v2/events".utf8), padding: .PSS))
    }

    @Test func keyFileErrorsNameThePathNotTheContent() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-key-\(getpid()).pem").path
        try "-----BEGIN RSA PRIVATE KEY-----\nSECRETSTUFF\n-----END RSA PRIVATE KEY-----\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { try KalshiKeySigner(keyID: "k", privateKeyPath: path) } throws: { error in
            "\(error)".contains(path) && !"\(error)".contains("SECRETSTUFF")
        }
        let pem = try _RSA.Signing.PrivateKey(keySize: .bits2048).pemRepresentation
        try pem.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try KalshiKeySigner(keyID: "k", privateKeyPath: path).keyID == "k")
    }
}

import Foundation
import Testing
import TestSupport

/// Every endpoint of kalshi-sim validated against the response schemas of the official
/// OpenAPI file by a real validator (python `openapi-schema-validator`, installed by
/// scripts/test from Tests/requirements.txt).
@Suite struct SimulatorSchemaTests {
    @Test func responsesMatchTheOfficialOpenAPISchemas() throws {
        let script = BuiltProducts.packageRoot.appendingPathComponent("Tests/KalshiSimulatorTests/validate_openapi.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path, "--sim-binary", BuiltProducts.executable("kalshi-sim").path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(output.suffix(4000))")
        #expect(output.contains("passed") || output.contains("OK") || output.contains("valid"), "\(output.suffix(2000))")
    }
}

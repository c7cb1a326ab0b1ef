import Foundation
import Testing
@testable import DaemonKit
@testable import NATSClient
@testable import Pipeline
@testable import PostgresClient
@testable import SSMDCore

/// What a daemon prints about its settings and start-up failures: secrets never appear,
/// refusals are told apart from outages, and the last line is one line.
@Suite struct StartupFailureTests {
    @Test(arguments: [
        ("host=db port=5432 password=hunter2 user=w", "host=db port=5432 password=[redacted] user=w"),
        ("host=db password='hunter 2' dbname=x", "host=db password=[redacted] dbname=x"),
        (#"password='it\'s hunter2' host=db"#, "password=[redacted] host=db"),
        ("host = db  PASSWORD = hunter2", "host=db password=[redacted]"),
        ("postgres://w:hunter2@db:5432/x", "postgres://w:[redacted]@db:5432/x"),
        ("postgresql://w@db/x?sslmode=disable&password=hunter2", "postgresql://w@db/x?sslmode=disable&password=[redacted]"),
        ("host=db dbname=x", "host=db dbname=x"),
    ])
    func conninfoIsRedacted(_ input: String, _ expected: String) {
        let out = Redaction.conninfo(input)
        #expect(out == expected)
        #expect(!out.contains("hunter"))
    }

    @Test func natsURLIsRedacted() {
        #expect(Redaction.url("nats://u:hunter2@127.0.0.1:4222") == "nats://u:[redacted]@127.0.0.1:4222")
        #expect(Redaction.url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222")
        // A token as user-info, with and without a scheme; a database user name stays.
        #expect(Redaction.url("nats://s3cr3tTOKEN@127.0.0.1:4222") == "nats://[redacted]@127.0.0.1:4222")
        #expect(Redaction.url("tls://s3cr3tTOKEN@nats.internal") == "tls://[redacted]@nats.internal")
        #expect(Redaction.url("s3cr3tTOKEN@127.0.0.1:4222") == "[redacted]@127.0.0.1:4222")
        #expect(Redaction.url("postgres://writer@db/secmaster") == "postgres://writer@db/secmaster")
        #expect(Redaction.url("https://api.example/trade-api/v2?x=1") == "https://api.example/trade-api/v2?x=1")
        // The secret itself, for scrubbing error texts.
        #expect(Redaction.secret(inURL: "nats://u:hunter2@h:4222") == "hunter2")
        #expect(Redaction.secret(inURL: "nats://s3cr3tTOKEN@h:4222") == "s3cr3tTOKEN")
        #expect(Redaction.secret(inURL: "postgresql://writer:pw@db/x?sslmode=require") == "pw")
        #expect(Redaction.secret(inURL: "postgres://writer@db/secmaster") == nil)
        #expect(Redaction.secret(inURL: "nats://u:@h") == nil)
    }

    @Test func refusalsAreToldApartFromOutages() {
        let refused = [
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "w""#,
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "nope" does not exist"#,
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  role "nobody" does not exist"#,
            #"FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "w", database "x", no encryption"#,
            "fe_sendauth: no password supplied",
        ]
        for m in refused { #expect(PostgresError.connection(message: m).isRefusal, "\(m)") }
        let outages = [
            #"connection to server at "127.0.0.1", port 5432 failed: Connection refused"#,
            "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally",
            "FATAL:  the database system is starting up",
            "FATAL:  terminating connection due to administrator command",
        ]
        for m in outages { #expect(!PostgresError.connection(message: m).isRefusal, "\(m)") }
        #expect(PostgresError.query(sqlState: "28P01", message: "", detail: nil, constraint: nil).isRefusal)
        #expect(!PostgresError.query(sqlState: "57P01", message: "", detail: nil, constraint: nil).isRefusal)

        #expect(isPermanentStartupFailure(NATSError.refused("Authorization Violation")))
        #expect(isPermanentStartupFailure(NATSError.closed))
        #expect(!isPermanentStartupFailure(NATSError.connection("no NATS server reachable")))
        #expect(!isPermanentStartupFailure(NATSError.timeout("stream info")))
        #expect(isPermanentStartupFailure(PostgresError.connection(message: "FATAL:  password authentication failed for user \"w\"")))
        #expect(!isPermanentStartupFailure(PostgresError.connection(message: "Connection refused")))
    }

    @Test func lastLineIsOneLine() {
        #expect(DaemonMain.oneLine("PostgreSQL connection error: a\nb\n\tc  \n") == "PostgreSQL connection error: a b c")
    }
}

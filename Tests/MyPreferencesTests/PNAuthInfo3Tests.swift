import MprefCore
import Foundation
import MprefTestSupport
import Testing
@testable import MyPreferences

@Suite("PNAUTHINFO3")
struct PNAuthInfo3Tests {
    struct Vector: Decodable, Sendable {
        var secret: String
        var clientId: String
        var userId: String
        var timestamp: String
        var signature: String
        var header: String?
    }

    struct VectorFile: Decodable {
        var cases: [Vector]
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // MyPreferencesTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // repo

    /// The team's shared vectors, `<repo>/../shared/vectors/pnauthinfo3.json` (CI lays `shared/`
    /// beside the clone); a clone without it uses the copy in `Fixtures/`, which must not drift.
    static func vectorFileURL() -> URL {
        let shared = repositoryRoot.deletingLastPathComponent().appendingPathComponent(
            "shared/vectors/pnauthinfo3.json")
        return FileManager.default.fileExists(atPath: shared.path) ? shared : fixtureURL
    }

    static let fixtureURL = repositoryRoot.appendingPathComponent("Tests/MyPreferencesTests/Fixtures/pnauthinfo3.json")

    @Test func theFixtureCopyMatchesTheSharedVectors() throws {
        let shared = Self.vectorFileURL()
        guard shared != Self.fixtureURL else { return }  // no shared/ beside this clone
        #expect(
            try Data(contentsOf: shared) == Data(contentsOf: Self.fixtureURL),
            "refresh Tests/MyPreferencesTests/Fixtures/pnauthinfo3.json from shared/")
    }

    @Test func sharedVectorsReproduce() throws {
        let data = try Data(contentsOf: Self.vectorFileURL())
        let vectors = try JSONDecoder().decode(VectorFile.self, from: data).cases
        #expect(vectors.count >= 3)
        for vector in vectors {
            let signature = PNAuthInfo3.signature(
                secret: vector.secret, clientID: vector.clientId, userID: vector.userId, timestamp: vector.timestamp
            )
            #expect(signature == vector.signature, "case \(vector.clientId)")
            let header = PNAuthInfo3.header(
                secret: vector.secret, clientID: vector.clientId, userID: vector.userId, timestamp: vector.timestamp
            )
            #expect(
                header
                    == "PNAUTHINFO3-HMAC-SHA256 Credential=\(vector.userId)/\(vector.timestamp) Signature=\(vector.signature)"
            )
            if let expected = vector.header {
                #expect(header == expected)
            }
        }
    }

    /// Over real HTTP: every request carries a fresh, verifiable signature with the injected time.
    @Test func signsEachRequestAfresh() async throws {
        let clock = ManualClock(wallStart: Date(timeIntervalSince1970: 1_709_622_489.1235))
        try await withServer({ _ in .json(sampleStatusJSON) }) { server in
            let account = loopbackAccount(server) {
                $0.auth = .pnauthinfo3(userID: "etl.user", secret: Secret("s3cr3t-Key"))
            }
            try await withClient(account, now: { clock.wallNow }) { client in
                _ = await client.status(of: 42)
                clock.advance(by: .seconds(1))
                _ = await client.status(of: 42)
            }
            let headers = server.requests.map { $0.header("Authorization") }
            #expect(
                headers == [
                    "PNAUTHINFO3-HMAC-SHA256 Credential=etl.user/2024-03-05T07:08:09.123Z Signature=lxA+bQGYB4tMwA2AC4fpjIiJ1DTeyKurVEtOgesz4HU=",
                    PNAuthInfo3.header(
                        secret: "s3cr3t-Key", clientID: "ACME_Co", userID: "etl.user",
                        timestamp: "2024-03-05T07:08:10.123Z"),
                ])
        }
    }
}

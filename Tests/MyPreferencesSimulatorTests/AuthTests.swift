import Foundation
import Testing

@testable import MyPreferencesSimulator
import NIOHTTP1

@Suite("Authentication")
struct AuthTests {
    // Copied from shared/vectors/pnauthinfo3.json.
    static let vectors: [(secret: String, clientID: String, userID: String, timestamp: String, signature: String)] = [
        (
            "s3cr3t-Key", "ACME_Co", "etl.user", "2024-03-05T07:08:09.123Z",
            "lxA+bQGYB4tMwA2AC4fpjIiJ1DTeyKurVEtOgesz4HU="
        ),
        (
            "9f8e7d6c5b4a", "Northwind_Prefs", "svc_export", "2025-11-30T23:59:59",
            "7hh1BFP/nO87HC9rrmL0rwX9NLCX3v1a1MyQ4yrA8Ck="
        ),
        (
            "key with spaces & ünïcode", "Contoso-Staging", "ops/bot", "2026-01-01T00:00:00Z",
            "KqaylsHE0IGLZX0A3GlnWRkFOnDaUWksco6zn2myD3A="
        ),
    ]

    @Test("The signature helper matches the shared PNAUTHINFO3 vectors", arguments: 0..<3)
    func signatureVectors(index: Int) {
        let v = Self.vectors[index]
        #expect(
            SimulatorAuth.pnauthinfo3Signature(
                secret: v.secret, clientID: v.clientID, userID: v.userID, issuedTimestamp: v.timestamp) == v.signature)
    }

    @Test("The vector headers are accepted at their issue time", arguments: 0..<3)
    func vectorHeadersAccepted(index: Int) async throws {
        let v = Self.vectors[index]
        let issued = try #require(UTCTimestamp.parseISO8601(v.timestamp))
        let clock = TestClock(issued.addingTimeInterval(60))
        let configuration = SimulatorConfiguration(auth: .pnauthinfo3(users: [v.userID: v.secret]), now: clock.reader)
        try await withSimulator(configuration) { sim async throws in
            let header = "PNAUTHINFO3-HMAC-SHA256 Credential=\(v.userID)/\(v.timestamp) Signature=\(v.signature)"
            let response = try await sim.pollStatus(
                clientID: v.clientID, accessToken: "1", headers: [("Authorization", header)])
            #expect(response.status == 200)
        }
    }

    static let users = ["etl.user": "s3cr3t-Key", "other": "different"]

    /// Builds a header for `ACME_Co` signed with `secret`, issued `age` seconds before the simulator's now.
    static func header(
        clock: TestClock, age: TimeInterval, user: String = "etl.user", secret: String = "s3cr3t-Key",
        clientID: String = "ACME_Co", scheme: String = "PNAUTHINFO3-HMAC-SHA256", milliseconds: Bool = true
    ) -> String {
        var timestamp = UTCTimestamp.iso8601Milliseconds(clock.now.addingTimeInterval(-age))
        if !milliseconds { timestamp = String(timestamp.prefix(19)) + "Z" }
        let signature = SimulatorAuth.pnauthinfo3Signature(
            secret: secret, clientID: clientID, userID: user, issuedTimestamp: timestamp)
        return "\(scheme) Credential=\(user)/\(timestamp) Signature=\(signature)"
    }

    @Test("PNAUTHINFO3: fresh correct signatures are accepted (scheme case-insensitive, with or without milliseconds)")
    func pnauthinfo3Accepted() async throws {
        let clock = TestClock()
        try await withSimulator(SimulatorConfiguration(auth: .pnauthinfo3(users: Self.users), now: clock.reader)) {
            sim async throws in
            for header in [
                Self.header(clock: clock, age: 0),
                Self.header(clock: clock, age: 14 * 60, milliseconds: false),
                Self.header(clock: clock, age: -3),  // within the clock-skew allowance
                Self.header(clock: clock, age: 1, scheme: "pnauthinfo3-hmac-sha256"),
            ] {
                let response = try await sim.pollStatus(accessToken: "1", headers: [("Authorization", header)])
                #expect(response.status == 200, "\(header): \(response.body)")
            }
        }
    }

    enum Rejection: String, CaseIterable, CustomTestStringConvertible {
        case wrongSecret, stale, future, unknownUser, otherClientID, missing, bearer, malformed, garbageSignature
        var testDescription: String { rawValue }
    }

    @Test("PNAUTHINFO3: wrong, stale, future, unknown or malformed credentials get 401", arguments: Rejection.allCases)
    func pnauthinfo3Rejected(rejection: Rejection) async throws {
        let clock = TestClock()
        try await withSimulator(SimulatorConfiguration(auth: .pnauthinfo3(users: Self.users), now: clock.reader)) {
            sim async throws in
            let header: String? =
                switch rejection {
                case .wrongSecret: Self.header(clock: clock, age: 0, secret: "s3cr3t-Kez")
                case .stale: Self.header(clock: clock, age: 15 * 60 + 1)
                case .future: Self.header(clock: clock, age: -60)
                case .unknownUser: Self.header(clock: clock, age: 0, user: "nobody")
                case .otherClientID: Self.header(clock: clock, age: 0, clientID: "Northwind_Prefs")
                case .missing: nil
                case .bearer: "Bearer abc"
                case .malformed: "PNAUTHINFO3-HMAC-SHA256 Credential=etl.user Signature=abc"
                case .garbageSignature:
                    "PNAUTHINFO3-HMAC-SHA256 Credential=etl.user/\(UTCTimestamp.iso8601Milliseconds(clock.now)) Signature=!!"
                }
            let response = try await sim.pollStatus(
                accessToken: "1", headers: header.map { [("Authorization", $0)] } ?? [])
            #expect(response.status == 401)
            let body = try jsonObject(response.body)
            #expect(body["Message"] as? String == "Authorization has been denied for this request.")
            // A refused poll does not consume the token's scenario.
            let good = try await sim.pollStatus(
                accessToken: "1", headers: [("Authorization", Self.header(clock: clock, age: 0))])
            #expect(try jsonObject(good.body)["Status"] as? String == "Processing")
        }
    }

    // MARK: OAuth

    static let oauthClients = ["a8f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3": "client-secret-1"]
    static let oauthClientID = "a8f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3"

    static func basic(_ id: String, _ secret: String) -> String {
        "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
    }

    static func fetchToken(_ sim: MyPreferencesSimulator, headers: [(String, String)], form: String) async throws
        -> SimpleResponse
    {
        try await TestHTTP.send(
            "\(sim.baseURL)/oauth/token", method: .POST,
            headers: headers + [("Content-Type", "application/x-www-form-urlencoded")], body: form)
    }

    @Test(
        "OAuth: token issued by Basic or form credentials; Bearer accepted; expiry and unknown tokens get 401; requests counted"
    )
    func oauthFlow() async throws {
        let clock = TestClock()
        let configuration = SimulatorConfiguration(
            auth: .oauth(clients: Self.oauthClients, tokenLifetime: .seconds(300)), now: clock.reader)
        try await withSimulator(configuration) { sim async throws in
            let issued = try await Self.fetchToken(
                sim, headers: [("Authorization", Self.basic(Self.oauthClientID, "client-secret-1"))],
                form: "grant_type=client_credentials&scope=ACME_Co%2Fetl.user")
            #expect(issued.status == 200)
            let answer = try jsonObject(issued.body)
            #expect(answer["token_type"] as? String == "Bearer")
            #expect(answer["expires_in"] as? Int == 300)
            let token = try #require(answer["access_token"] as? String)
            #expect(token.count >= 32)

            let polled = try await sim.pollStatus(accessToken: "1", headers: [("Authorization", "Bearer \(token)")])
            #expect(polled.status == 200)
            // The token's scope names ACME_Co only.
            #expect(
                try await sim.pollStatus(
                    clientID: "Northwind", accessToken: "1", headers: [("Authorization", "Bearer \(token)")]
                ).status == 401)
            #expect(
                try await sim.pollStatus(accessToken: "1", headers: [("Authorization", "Bearer not-a-token")]).status
                    == 401)
            #expect(try await sim.pollStatus(accessToken: "1").status == 401)

            // Credentials in the form body work too.
            let viaForm = try await Self.fetchToken(
                sim, headers: [],
                form:
                    "grant_type=client_credentials&scope=ACME_Co/etl.user&client_id=\(Self.oauthClientID)&client_secret=client-secret-1"
            )
            #expect(viaForm.status == 200)

            // Failures: bad secret, wrong grant type, missing scope.
            let badSecret = try await Self.fetchToken(
                sim, headers: [("Authorization", Self.basic(Self.oauthClientID, "wrong"))],
                form: "grant_type=client_credentials&scope=ACME_Co/etl.user")
            #expect(badSecret.status == 401)
            #expect(try jsonObject(badSecret.body)["error"] as? String == "invalid_client")
            let badGrant = try await Self.fetchToken(
                sim, headers: [("Authorization", Self.basic(Self.oauthClientID, "client-secret-1"))],
                form: "grant_type=password&scope=ACME_Co/etl.user")
            #expect(try jsonObject(badGrant.body)["error"] as? String == "unsupported_grant_type")
            let noScope = try await Self.fetchToken(
                sim, headers: [("Authorization", Self.basic(Self.oauthClientID, "client-secret-1"))],
                form: "grant_type=client_credentials")
            #expect(noScope.status == 400)
            #expect(await sim.oauthTokenRequestCount() == 5)

            clock.advance(by: 299)
            #expect(
                try await sim.pollStatus(accessToken: "1", headers: [("Authorization", "Bearer \(token)")]).status
                    == 200)
            clock.advance(by: 2)
            let expired = try await sim.pollStatus(accessToken: "1", headers: [("Authorization", "Bearer \(token)")])
            #expect(expired.status == 401)
            #expect(try jsonObject(expired.body)["Reason"] as? String == "bearer token expired")
        }
    }

    @Test("OAuth: the token endpoint path is configurable")
    func oauthCustomPath() async throws {
        let configuration = SimulatorConfiguration(
            auth: .oauth(clients: Self.oauthClients, tokenLifetime: .seconds(60)), oauthTokenPath: "/connect/token")
        try await withSimulator(configuration) { sim async throws in
            let response = try await TestHTTP.send(
                "http://127.0.0.1:\(sim.port)/connect/token", method: .POST,
                headers: [("Authorization", Self.basic(Self.oauthClientID, "client-secret-1"))],
                body: "grant_type=client_credentials&scope=ACME_Co/u")
            #expect(response.status == 200)
            #expect(await sim.oauthTokenRequestCount() == 1)
        }
    }
}

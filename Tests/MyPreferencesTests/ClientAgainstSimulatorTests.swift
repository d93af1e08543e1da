import Foundation
import MprefCore
import Logging
import MprefTestSupport
import MyPreferences
import MyPreferencesSimulator
import Testing

/// The client and the project's own simulator agree on both auth schemes, both path forms and both
/// media types, over real loopback HTTP.
@Suite struct ClientAgainstSimulatorTests {
    func start(_ auth: SimulatorAuth, now: @escaping @Sendable () -> Date = { Date() }) async throws
        -> MyPreferencesSimulator
    {
        var configuration = SimulatorConfiguration()
        configuration.auth = auth
        configuration.now = now
        configuration.defaultScenario = Scenario([
            .status("Complete", rowCount: 3_000_000_000, byteCount: 5_000_000_000)
        ])
        return try await MyPreferencesSimulator.start(configuration, logger: Logger(label: "sim"))
    }

    @Test(
        arguments: [AccountConfiguration.MediaType.json, .xml],
        [AccountConfiguration.defaultStatusPath, "{clientId}/status/Token/{accessToken}"])
    func pnauthinfo3IsAcceptedByTheSimulator(accept: AccountConfiguration.MediaType, statusPath: String) async throws {
        let simulator = try await start(.pnauthinfo3(users: ["etl.user": "s3cr3t-Key"]))
        let client = try MyPreferencesClient(
            configuration: AccountConfiguration(
                clientID: "ACME_Co", baseURL: simulator.baseURL, statusPath: statusPath, accept: accept,
                auth: .pnauthinfo3(userID: "etl.user", secret: Secret("s3cr3t-Key"))),
            logger: Logger(label: "client"))
        let result = await client.status(of: 42)
        try await client.shutdown()
        await simulator.stop()
        guard case .ok(let status) = result.outcome else {
            Issue.record("expected ok, got \(result.outcome)")
            return
        }
        #expect(status.knownStatus == .complete)
        #expect(status.rowCount == 3_000_000_000)
        #expect(status.byteCount == 5_000_000_000)
        #expect(statusPath.hasPrefix("Async") ? status.expires == nil : status.expires != nil)
        #expect(await simulator.requests().first?.authScheme == "PNAUTHINFO3-HMAC-SHA256")
    }

    @Test func aWrongHMACKeyIsUnauthorized() async throws {
        let simulator = try await start(.pnauthinfo3(users: ["etl.user": "right"]))
        let client = try MyPreferencesClient(
            configuration: AccountConfiguration(
                clientID: "ACME_Co", baseURL: simulator.baseURL,
                auth: .pnauthinfo3(userID: "etl.user", secret: Secret("wrong"))),
            logger: Logger(label: "client"))
        let result = await client.status(of: 42)
        try await client.shutdown()
        await simulator.stop()
        #expect(result.outcome == .unauthorized)
        #expect(result.httpStatus == 401)
    }

    @Test func oauthFetchesOneTokenFor32ConcurrentPollsAndRefreshesAfterExpiry() async throws {
        let clock = ManualClock(wallStart: Date())
        let now: @Sendable () -> Date = { clock.wallNow }
        let simulator = try await start(
            .oauth(clients: ["oauth-client": "oauth-secret"], tokenLifetime: .seconds(600)), now: now)
        let client = try MyPreferencesClient(
            configuration: AccountConfiguration(
                clientID: "ACME_Co", baseURL: simulator.baseURL,
                auth: .oauth(
                    tokenURL: simulator.baseURL + "/oauth/token", oauthClientID: "oauth-client",
                    oauthClientSecret: Secret("oauth-secret"), userID: "etl.user")),
            logger: Logger(label: "client"), now: now)
        let outcomes = await withTaskGroup(of: PollOutcome.self) { group in
            for token in 1...32 { group.addTask { await client.status(of: AccessToken(Int64(token))).outcome } }
            return await group.reduce(into: [PollOutcome]()) { $0.append($1) }
        }
        #expect(outcomes.count == 32)
        #expect(outcomes.allSatisfy { if case .ok = $0 { true } else { false } })
        #expect(await simulator.oauthTokenRequestCount() == 1)
        // Past the token's lifetime on both clocks: one refresh, then polls go on.
        clock.advance(by: .seconds(601))
        let later = await client.status(of: 99)
        #expect(later.httpStatus == 200)
        #expect(await simulator.oauthTokenRequestCount() == 2)
        let bearer = await simulator.requests().filter { $0.accessToken != nil }.allSatisfy {
            $0.authScheme == "Bearer"
        }
        #expect(bearer)
        try await client.shutdown()
        await simulator.stop()
    }

    /// `mprefd export`'s request is signed like every other one: both schemes start an export.
    @Test func bothAuthSchemesInitiateAnExport() async throws {
        let segment = try #require(SegmentName("Daily Contacts"))
        let book = ScenarioBook(segments: [SegmentScenario(name: "Daily Contacts", clientID: "ACME_Co", records: 10)])
        for (auth, account) in [
            (
                SimulatorAuth.pnauthinfo3(users: ["etl.user": "k3y"]),
                { (base: String) in Authentication.pnauthinfo3(userID: "etl.user", secret: Secret("k3y")) }
            ),
            (
                .oauth(clients: ["oauth-client": "oauth-secret"], tokenLifetime: .seconds(600)),
                { (base: String) in
                    .oauth(
                        tokenURL: base + "/oauth/token", oauthClientID: "oauth-client",
                        oauthClientSecret: Secret("oauth-secret"), userID: "etl.user")
                }
            ),
        ] {
            var configuration = SimulatorConfiguration()
            configuration.auth = auth
            configuration.scenarios = book
            let simulator = try await MyPreferencesSimulator.start(configuration, logger: Logger(label: "sim"))
            let client = try MyPreferencesClient(
                configuration: AccountConfiguration(
                    clientID: "ACME_Co", baseURL: simulator.baseURL, auth: account(simulator.baseURL)),
                logger: Logger(label: "client"))
            let started = await client.initiate(
                segment: segment, request: ExportRequest(lastDateTime: "2026-12-01T00:00:00.009Z"))
            let unknown = await client.initiate(segment: try #require(SegmentName("Nope")), request: ExportRequest())
            try await client.shutdown()
            let initiations = await simulator.initiations()
            await simulator.stop()
            guard case .ok(let export) = started.outcome else { Issue.record("\(auth): \(started.outcome)"); continue }
            #expect(initiations.map(\.accessToken) == [export.accessToken.value])
            #expect(
                initiations.first?.segment == "Daily Contacts"
                    && initiations.first?.lastDateTime == "2026-12-01T00:00:00.009Z")
            guard case .badRequest(let detail) = unknown.outcome else {
                Issue.record("unknown segment: \(unknown.outcome)"); continue
            }
            #expect(detail.contains("Nope"))
        }
    }
}

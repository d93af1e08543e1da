import MprefCore
import Foundation
import MprefTestSupport
import Synchronization
import Testing
@testable import MyPreferences

@Suite("OAuth client credentials")
struct OAuthTests {
    static let secret = "Sup3r-S3cret/Value"

    /// A loopback MyPreferences + token endpoint. Tokens are `tok-1`, `tok-2`, …; `accepts` says
    /// which bearer tokens the status endpoint honours.
    final class Fixture: Sendable {
        let issued = Mutex(0)
        let tokenStatus: Int
        let expiresIn: Int
        let tokenDelayMicroseconds: UInt32
        let accepts: @Sendable (String) -> Bool

        init(
            tokenStatus: Int = 200, expiresIn: Int = 3600, tokenDelayMicroseconds: UInt32 = 0,
            accepts: @escaping @Sendable (String) -> Bool = { _ in true }
        ) {
            self.tokenStatus = tokenStatus
            self.expiresIn = expiresIn
            self.tokenDelayMicroseconds = tokenDelayMicroseconds
            self.accepts = accepts
        }

        func handle(_ request: RecordedRequest) -> ServerReply {
            if request.target == "/oauth/token" {
                // Widens the window in which concurrent polls would start their own refresh.
                if tokenDelayMicroseconds > 0 { usleep(tokenDelayMicroseconds) }
                guard tokenStatus == 200 else {
                    return .json(#"{"error": "invalid_client"}"#, status: tokenStatus)
                }
                let number = issued.withLock {
                    $0 += 1; return $0
                }
                return .json(
                    #"{"access_token": "tok-\#(number)", "token_type": "Bearer", "expires_in": \#(expiresIn)}"#)
            }
            let authorization = request.header("Authorization") ?? ""
            guard authorization.hasPrefix("Bearer "), accepts(String(authorization.dropFirst(7))) else {
                return .respond(status: 401, headers: [("WWW-Authenticate", "Bearer")])
            }
            return .json(anyTokenStatusJSON)
        }
    }

    func account(_ server: LoopbackServer, tokenURL: String? = nil) -> AccountConfiguration {
        loopbackAccount(server) {
            $0.auth = .oauth(
                tokenURL: tokenURL ?? server.baseURL + "/oauth/token", oauthClientID: "oauth-client-id",
                oauthClientSecret: Secret(Self.secret), userID: "etl.user"
            )
        }
    }

    static let ok = PollOutcome.ok(ExportStatus(status: "Complete", rowCount: 10, byteCount: 2048))

    @Test func tokenRequestIsTheClientCredentialsGrantAndTokenIsCached() async throws {
        let fixture = Fixture()
        try await withServer(fixture.handle) { server in
            let results = try await withClient(account(server)) { client in
                [await client.status(of: 42), await client.status(of: 43), await client.status(of: 44)]
            }
            #expect(results.map(\.outcome) == [Self.ok, Self.ok, Self.ok])
            let tokenRequests = server.requests.filter { $0.target == "/oauth/token" }
            #expect(tokenRequests.count == 1)
            let tokenRequest = try #require(tokenRequests.first)
            #expect(tokenRequest.method == "POST")
            #expect(
                tokenRequest.header("Authorization") == "Basic "
                    + Data("oauth-client-id:\(Self.secret)".utf8).base64EncodedString())
            #expect(tokenRequest.header("Content-Type") == "application/x-www-form-urlencoded")
            #expect(tokenRequest.bodyText == "grant_type=client_credentials&scope=ACME_Co%2Fetl.user")
            let statusRequests = server.requests.filter { $0.target != "/oauth/token" }
            #expect(statusRequests.map { $0.header("Authorization") } == Array(repeating: "Bearer tok-1", count: 3))
        }
    }

    @Test func tokenIsRefreshedBeforeItExpires() async throws {
        let fixture = Fixture(expiresIn: 3600)
        let clock = ManualClock()
        try await withServer(fixture.handle) { server in
            try await withClient(account(server), now: { clock.wallNow }) { client in
                #expect(await client.status(of: 1).outcome == Self.ok)
                clock.advance(by: .seconds(3_000))  // margin is max(30 s, 10 %) = 360 s: still fresh
                #expect(await client.status(of: 1).outcome == Self.ok)
                #expect(fixture.issued.withLock { $0 } == 1)
                clock.advance(by: .seconds(300))  // 3,300 s: inside the margin
                #expect(await client.status(of: 1).outcome == Self.ok)
                #expect(fixture.issued.withLock { $0 } == 2)
                clock.advance(by: .seconds(10_000))  // long expired
                #expect(await client.status(of: 1).outcome == Self.ok)
            }
            #expect(fixture.issued.withLock { $0 } == 3)
            let bearers = server.requests.filter { $0.target != "/oauth/token" }.map {
                $0.header("Authorization") ?? ""
            }
            #expect(bearers == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2", "Bearer tok-3"])
        }
    }

    @Test func concurrentPollsShareOneTokenRequest() async throws {
        let fixture = Fixture(tokenDelayMicroseconds: 300_000)
        try await withServer(fixture.handle) { server in
            let outcomes = try await withClient(account(server)) { client in
                await withTaskGroup(of: PollOutcome.self) { group in
                    for token in 0..<32 { group.addTask { await client.status(of: AccessToken(Int64(token))).outcome } }
                    return await group.reduce(into: [PollOutcome]()) { $0.append($1) }
                }
            }
            #expect(outcomes.count == 32)
            #expect(outcomes.allSatisfy { $0 == Self.ok })
            #expect(server.requests.filter { $0.target == "/oauth/token" }.count == 1)
        }
    }

    @Test func unauthorizedStatusRefreshesOnceAndRetries() async throws {
        let fixture = Fixture(accepts: { $0 != "tok-1" })
        try await withServer(fixture.handle) { server in
            let result = try await withClient(account(server)) { await $0.status(of: 42) }
            #expect(result.outcome == Self.ok)
            #expect(result.httpStatus == 200)
            #expect(
                server.requests.map(\.target) == [
                    "/oauth/token", "/Profiles/Async/ACME_Co/Export/42/Status", "/oauth/token",
                    "/Profiles/Async/ACME_Co/Export/42/Status",
                ])
        }
    }

    @Test func concurrentUnauthorizedAnswersCauseOneRefresh() async throws {
        let fixture = Fixture(tokenDelayMicroseconds: 100_000, accepts: { $0 != "tok-1" })
        try await withServer(fixture.handle) { server in
            let outcomes = try await withClient(account(server)) { client in
                await withTaskGroup(of: PollOutcome.self) { group in
                    for token in 0..<8 { group.addTask { await client.status(of: AccessToken(Int64(token))).outcome } }
                    return await group.reduce(into: [PollOutcome]()) { $0.append($1) }
                }
            }
            #expect(outcomes.allSatisfy { $0 == Self.ok })
            #expect(fixture.issued.withLock { $0 } == 2)
        }
    }

    @Test func persistentUnauthorizedIsReportedNotLooped() async throws {
        let fixture = Fixture(accepts: { _ in false })
        try await withServer(fixture.handle) { server in
            let result = try await withClient(account(server)) { await $0.status(of: 42) }
            #expect(result.outcome == .unauthorized)
            #expect(result.httpStatus == 401)
            #expect(server.requests.filter { $0.target == "/oauth/token" }.count == 2)
            #expect(server.requests.filter { $0.target != "/oauth/token" }.count == 2)
        }
    }

    @Test(arguments: [400, 401])
    func tokenEndpointRefusalIsUnauthorized(status: Int) async throws {
        let fixture = Fixture(tokenStatus: status)
        try await withServer(fixture.handle) { server in
            let result = try await withClient(account(server)) { await $0.status(of: 42) }
            #expect(result.outcome == .unauthorized)
            #expect(result.httpStatus == status)
            #expect(server.requests.allSatisfy { $0.target == "/oauth/token" }, "no status request without a token")
        }
    }

    @Test func tokenEndpointFailuresAreTransportErrorsWithoutTheSecret() async throws {
        let fixture = Fixture(tokenStatus: 500)
        try await withServer(fixture.handle) { server in
            let failing = try await withClient(account(server)) { await $0.status(of: 42) }
            var unreachableAccount = account(server, tokenURL: "http://127.0.0.1:\(closedLoopbackPort())/oauth/token")
            unreachableAccount.connectTimeout = .seconds(1)
            let unreachable = try await withClient(unreachableAccount) { await $0.status(of: 42) }
            guard case .transportError(.other, let detail) = failing.outcome else {
                Issue.record("expected transportError(.other), got \(failing.outcome)")
                return
            }
            #expect(detail.contains("500"))
            guard case .transportError(.connect, let unreachableDetail) = unreachable.outcome else {
                Issue.record("expected transportError(.connect), got \(unreachable.outcome)")
                return
            }
            for text in [detail, unreachableDetail, "\(failing)", "\(unreachable)"] {
                #expect(!text.contains(Self.secret))
                #expect(!text.contains(Data("oauth-client-id:\(Self.secret)".utf8).base64EncodedString()))
            }
        }
    }
}

import Foundation
import MprefTestSupport
import Testing
@testable import MyPreferences
import MprefCore

@Suite("MyPreferencesClient transport failures and keep-alive")
struct ClientTransportTests {
    func expectTransport(
        _ result: PollResult, _ failure: TransportFailure, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard case .transportError(let actual, let detail) = result.outcome else {
            Issue.record("expected transportError(\(failure)), got \(result.outcome)", sourceLocation: sourceLocation)
            return
        }
        #expect(actual == failure, "detail: \(detail)", sourceLocation: sourceLocation)
        #expect(detail.count <= 256, sourceLocation: sourceLocation)
    }

    @Test func connectionRefused() async throws {
        let port = closedLoopbackPort()
        let account = AccountConfiguration(
            clientID: "ACME_Co", baseURL: "http://127.0.0.1:\(port)/Profiles",
            connectTimeout: .seconds(1), requestTimeout: .seconds(20)
        )
        let result = try await withClient(account) { await $0.status(of: 42) }
        expectTransport(result, .connect)
        #expect(result.httpStatus == nil)
        // Issue 17.14: said as it is, not NIO's "connection reset (error set): …".
        if case .transportError(_, let detail) = result.outcome {
            #expect(detail == "connection refused", "\(detail)")
        }
    }

    @Test func serverThatNeverAnswersTimesOut() async throws {
        try await withServer({ _ in .hang }) { server in
            let result = try await withClient(loopbackAccount(server) { $0.requestTimeout = .milliseconds(500) }) {
                await $0.status(of: 42)
            }
            expectTransport(result, .timeout)
            #expect(result.latency >= .milliseconds(400))
        }
    }

    @Test func cancellingThePollEndsAHangingRequestAtOnce() async throws {
        try await withServer({ _ in .hang }) { server in
            let clock = ContinuousClock()
            let started = clock.now
            let result = try await withClient(loopbackAccount(server) { $0.requestTimeout = .seconds(900) }) { client in
                let poll = Task { await client.status(of: 42) }
                try? await Task.sleep(for: .milliseconds(300))
                poll.cancel()
                return await poll.value
            }
            #expect(
                clock.now - started < .seconds(300),
                "the request ended with the cancellation, not at its 900 s deadline")
            if case .transportError(let failure, _) = result.outcome {
                #expect(failure != .timeout)
            } else {
                Issue.record("expected a transport error, got \(result.outcome)")
            }
        }
    }

    @Test func bodyThatStallsHitsTheWholeRequestDeadline() async throws {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"Status\":"
        try await withServer({ request in
            // Head and part of the body, then silence (the connection stays open).
            request.indexOnConnection == 0 ? .raw(Array(head.utf8), thenClose: false) : .hang
        }) { server in
            let result = try await withClient(loopbackAccount(server) { $0.requestTimeout = .milliseconds(700) }) {
                await $0.status(of: 42)
            }
            expectTransport(result, .timeout)
        }
    }

    @Test func serverClosingMidBodyIsReset() async throws {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"Status\":"
        try await withServer({ _ in .raw(Array(head.utf8), thenClose: true) }) { server in
            let result = try await withClient(loopbackAccount(server)) { await $0.status(of: 42) }
            expectTransport(result, .reset)
            #expect(server.requests.count == 1, "a response that had started is not retried")
        }
    }

    @Test func idlePooledConnectionClosedByServerIsRetriedOnce() async throws {
        try await withServer({ request in
            // The first connection serves one request, then "times out" the next one by closing.
            (request.connection == 0 && request.indexOnConnection == 1) ? .close : .json(sampleStatusJSON)
        }) { server in
            let results = try await withClient(loopbackAccount(server)) { client in
                [await client.status(of: 42), await client.status(of: 42)]
            }
            for result in results {
                #expect(
                    result.outcome
                        == .ok(ExportStatus(accessToken: 42, status: "Complete", rowCount: 10, byteCount: 2048)))
                #expect(result.httpStatus == 200)
            }
            #expect(server.requests.count == 3)
            #expect(server.connectionCount == 2)
        }
    }

    @Test func serverThatAlwaysHangsUpIsRetriedOnlyOnce() async throws {
        try await withServer({ _ in .close }) { server in
            let result = try await withClient(loopbackAccount(server)) { await $0.status(of: 42) }
            expectTransport(result, .reset)
            #expect(server.requests.count == 2)
        }
    }

    @Test func tlsHandshakeWithAPlainHTTPServerFailsAsTLS() async throws {
        let server = try LoopbackServer(greeting: Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8)) {
            _ in .close
        }
        defer { server.stop() }
        let account = AccountConfiguration(
            clientID: "ACME_Co", baseURL: "https://127.0.0.1:\(server.port)/Profiles", connectTimeout: .seconds(2))
        let result = try await withClient(account) { await $0.status(of: 42) }
        expectTransport(result, .tls)
    }

    @Test func garbageResponseIsNotAnAnswer() async throws {
        try await withServer({ _ in .raw(Array("SPDY/9 what\r\n\r\n".utf8), thenClose: true) }) { server in
            let result = try await withClient(loopbackAccount(server)) { await $0.status(of: 42) }
            guard case .transportError = result.outcome else {
                Issue.record("expected a transport error, got \(result.outcome)")
                return
            }
            #expect(result.httpStatus == nil)
        }
    }

    @Test func manyConcurrentPollsShareThePool() async throws {
        try await withServer({ _ in .json(anyTokenStatusJSON) }) { server in
            let outcomes = try await withClient(loopbackAccount(server)) { client in
                await withTaskGroup(of: PollOutcome.self) { group in
                    for token in 0..<100 {
                        group.addTask { await client.status(of: AccessToken(Int64(token))).outcome }
                    }
                    return await group.reduce(into: [PollOutcome]()) { $0.append($1) }
                }
            }
            #expect(outcomes.count == 100)
            #expect(outcomes.allSatisfy { $0.kind.rawValue == "ok" })
            #expect(server.connectionCount <= 64)
        }
    }
}

import Foundation
import MprefCore
import Testing
@testable import MyPreferences

@Suite("MyPreferencesClient classification over loopback HTTP")
struct ClientClassificationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var status: Int
        var headers: [(String, String)]
        var body: String
        var expected: PollOutcome
        var testDescription: String {
            "HTTP \(status) \(headers.map { "\($0.0): \($0.1)" }) → \(expected.kind.rawValue)"
        }
    }

    static let cases: [Case] = [
        Case(
            status: 200, headers: [("Content-Type", "application/json")], body: sampleStatusJSON,
            expected: .ok(ExportStatus(accessToken: 42, status: "Complete", rowCount: 10, byteCount: 2048))),
        Case(
            status: 201, headers: [("Content-Type", "text/json")], body: #"{"Status": "Processing"}"#,
            expected: .ok(ExportStatus(status: "Processing"))),
        Case(
            status: 200, headers: [("Content-Type", "text/html")], body: "<html>maintenance</html>",
            expected: .undecodable(
                reason: "root element is not AsyncApiDataExportStatusResult", excerpt: "<html>maintenance</html>")),
        // Issue 17.3: an answer naming another export (the poll asks for 42) never completes this one.
        Case(
            status: 200, headers: [("Content-Type", "application/json")],
            body: #"{"AccessToken": 71, "Status": "Complete", "RowCount": 5}"#,
            expected: .undecodable(
                reason: "the answer names AccessToken 71, not the polled 42", excerpt: "AccessToken 71, Status Complete"
            )),
        Case(
            status: 200, headers: [("Content-Type", "application/json")],
            body: #"{"AccessToken": "abc", "Status": "Complete"}"#,
            expected: .undecodable(
                reason: "AccessToken is not an integer", excerpt: #"{"AccessToken": "abc", "Status": "Complete"}"#)),
        Case(status: 301, headers: [("Location", "/elsewhere")], body: "", expected: .unexpectedStatus),
        Case(
            status: 302, headers: [("Location", "http://127.0.0.1:1/elsewhere")], body: "", expected: .unexpectedStatus),
        Case(
            status: 400, headers: [("Content-Type", "text/plain")], body: "Invalid token\nfix it",
            expected: .badRequest(detail: "Invalid token fix it")),
        Case(status: 401, headers: [], body: "", expected: .unauthorized),
        Case(status: 403, headers: [], body: "nope", expected: .forbidden),
        Case(status: 404, headers: [], body: "", expected: .notFound),
        Case(status: 409, headers: [], body: "", expected: .unexpectedStatus),
        Case(status: 418, headers: [], body: "teapot", expected: .unexpectedStatus),
        Case(status: 500, headers: [], body: "boom", expected: .serverError),
        Case(status: 502, headers: [], body: "", expected: .serverError),
        Case(status: 503, headers: [], body: "", expected: .unavailable(retryAfter: nil)),
        Case(
            status: 503, headers: [("Retry-After", "120")], body: "", expected: .unavailable(retryAfter: .seconds(120))),
        Case(
            status: 503,
            headers: [("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"), ("Date", "Sun, 06 Nov 1994 08:49:37 GMT")],
            body: "", expected: .unavailable(retryAfter: .seconds(30))),
        Case(status: 503, headers: [("Retry-After", "soon")], body: "", expected: .unavailable(retryAfter: nil)),
        // A delta-seconds near the top of the 64-bit range (issue 12): a very long delay, pinned, not a trap.
        Case(
            status: 503, headers: [("Retry-After", "9223372036854775807")], body: "",
            expected: .unavailable(retryAfter: .longest)),
        // 429 Too Many Requests honours Retry-After like 503 (RFC 6585 §4).
        Case(status: 429, headers: [("Retry-After", "7")], body: "", expected: .unavailable(retryAfter: .seconds(7))),
        Case(status: 429, headers: [], body: "", expected: .unavailable(retryAfter: nil)),
        Case(status: 504, headers: [("Retry-After", "5")], body: "", expected: .serverError),
    ]

    @Test(arguments: cases)
    func classifies(_ testCase: Case) async throws {
        try await withServer({ _ in
            .respond(status: testCase.status, headers: testCase.headers, body: Array(testCase.body.utf8))
        }) { server in
            let result = try await withClient(loopbackAccount(server)) { await $0.status(of: 42) }
            #expect(result.outcome == testCase.expected)
            #expect(result.httpStatus == testCase.status)
            #expect(result.latency > .zero)
            #expect(server.requests.count == 1, "redirects are never followed, nothing is retried")
        }
    }

    @Test func sendsTheDocumentedRequest() async throws {
        try await withServer({ _ in .json(sampleStatusJSON) }) { server in
            try await withClient(loopbackAccount(server)) { client in
                _ = await client.status(of: 42)
            }
            let request = try #require(server.requests.first)
            #expect(request.method == "GET")
            #expect(request.target == "/Profiles/Async/ACME_Co/Export/42/Status")
            #expect(request.header("Accept") == "application/json")
            #expect(request.header("User-Agent") == "mprefd/" + MprefVersion.current)
            #expect(request.header("Authorization") == nil)
        }
    }

    @Test func xmlAcceptAndXMLAnswer() async throws {
        let xml = """
            <AsyncApiDataExportStatusResult xmlns="\(StatusDecoder.xmlNamespace)"><Status>Complete</Status><ByteCount>5000000000</ByteCount>\
            <AccessToken>42</AccessToken><RowCount>3</RowCount></AsyncApiDataExportStatusResult>
            """
        try await withServer({ _ in
            .respond(status: 200, headers: [("Content-Type", "application/xml; charset=utf-8")], body: Array(xml.utf8))
        }) { server in
            let result = try await withClient(loopbackAccount(server) { $0.accept = .xml }) { await $0.status(of: 42) }
            #expect(
                result.outcome
                    == .ok(ExportStatus(accessToken: 42, status: "Complete", rowCount: 3, byteCount: 5_000_000_000)))
            #expect(server.requests.first?.header("Accept") == "application/xml")
        }
    }

    @Test func oneMebibyteBodyIsTooLarge() async throws {
        let big = [UInt8](repeating: UInt8(ascii: " "), count: 1 << 20)
        try await withServer({ _ in .respond(status: 200, headers: [("Content-Type", "application/json")], body: big) })
        { server in
            let result = try await withClient(loopbackAccount(server)) { await $0.status(of: 42) }
            guard case .transportError(.bodyTooLarge, _) = result.outcome else {
                Issue.record("expected bodyTooLarge, got \(result.outcome)")
                return
            }
            #expect(result.httpStatus == 200)
        }
    }

    @Test func bodyAtTheLimitIsRead() async throws {
        let json = Array(#"{"Status": "Complete"}"#.utf8)
        let padded = json + [UInt8](repeating: UInt8(ascii: " "), count: 1024 - json.count)
        let answer: @Sendable (RecordedRequest) -> ServerReply = { _ in
            .respond(status: 200, headers: [("Content-Type", "application/json")], body: padded)
        }
        try await withServer(answer) { server in
            let result = try await withClient(loopbackAccount(server) { $0.maxBodyBytes = 1024 }) {
                await $0.status(of: 1)
            }
            #expect(result.outcome == .ok(ExportStatus(status: "Complete")))
        }
    }

    @Test func oversizedErrorBodyStillClassifiedByStatus() async throws {
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 200_000)
        try await withServer({ _ in .respond(status: 500, headers: [("Content-Type", "text/html")], body: big) }) {
            server in
            let result = try await withClient(loopbackAccount(server)) { await $0.status(of: 42) }
            #expect(result.outcome == .serverError)
            #expect(result.httpStatus == 500)
        }
    }

    @Test func badRequestDetailIsBounded() async throws {
        let body = String(repeating: "ü", count: 10_000)
        try await withServer({ _ in .respond(status: 400, body: Array(body.utf8)) }) { server in
            let result = try await withClient(loopbackAccount(server)) { await $0.status(of: 42) }
            guard case .badRequest(let detail) = result.outcome else {
                Issue.record("expected badRequest, got \(result.outcome)")
                return
            }
            #expect(detail == String(repeating: "ü", count: 256))
        }
    }
}

import Foundation
import MprefCore
import MprefTestSupport
import Testing
@testable import MyPreferences

/// The initiate request (`POST Async/{clientId}/Export/Segment/{segmentName}`): its URL, body,
/// `LastDateTime` and answer, over real loopback HTTP.
@Suite struct InitiateTests {
    func segment(_ name: String) throws -> SegmentName { try #require(SegmentName(name)) }

    @Test func theRequestIsOneJSONPostToTheEncodedSegment() async throws {
        try await withServer({ _ in .json(#"{"AccessToken": 9007199254740993}"#) }) { server in
            let account = AccountConfiguration(clientID: "ACME_Co", baseURL: server.baseURL + "/Profiles/")
            let request = ExportRequest(
                lastDateTime: "2026-12-01T05:59:59.999Z", matchCriteria: .emailAddress,
                values: ["a@example.com", "zoë \"q\""])
            let result = try await withClient(account) {
                try await $0.initiate(segment: segment("Daily Contacts EU ü%"), request: request)
            }
            #expect(result.outcome == .ok(InitiatedExport(accessToken: 9_007_199_254_740_993)))
            #expect(result.httpStatus == 200)
            let sent = try #require(server.requests.first)
            #expect(server.requests.count == 1)
            #expect(sent.method == "POST")
            #expect(sent.target == "/Profiles/Async/ACME_Co/Export/Segment/Daily%20Contacts%20EU%20%C3%BC%25")
            #expect(sent.header("Content-Type") == "application/json")
            #expect(
                sent.bodyText
                    == #"{"LastDateTime":"2026-12-01T05:59:59.999Z","MatchCriteria":"EmailAddress","Values":["a@example.com","zoë \"q\""]}"#
            )
            let decoded = try JSONSerialization.jsonObject(with: Data(sent.body)) as? [String: Any]
            #expect(decoded?["Values"] as? [String] == ["a@example.com", "zoë \"q\""])
        }
    }

    @Test func theAPI3PathFormIsATemplate() async throws {
        try await withServer({ _ in .json(#"{"accesstoken":"17"}"#) }) { server in
            let account = AccountConfiguration(
                clientID: "ACME_Co", baseURL: server.baseURL + "/API/3/async",
                initiatePath: "{clientId}/export/Segment/{segmentName}")
            let result = try await withClient(account) {
                try await $0.initiate(segment: segment("Newsletter"), request: ExportRequest())
            }
            #expect(result.outcome == .ok(InitiatedExport(accessToken: 17)))
            #expect(server.requests.first?.target == "/API/3/async/ACME_Co/export/Segment/Newsletter")
            #expect(server.requests.first?.bodyText == "{}")
        }
    }

    /// A lost answer is never re-sent by the client: one request, whatever happened.
    @Test(arguments: [
        ServerReply.close, .json("{}", status: 500), .json("not json"), .json(#"{"AccessToken": -3}"#),
        .json(#"{"AccessToken": 1, "accessToken": 2}"#),
    ])
    func anAnswerWithoutATokenIsSentOnce(reply: ServerReply) async throws {
        try await withServer({ _ in reply }) { server in
            let account = AccountConfiguration(
                clientID: "ACME_Co", baseURL: server.baseURL, requestTimeout: .seconds(5))
            let result = try await withClient(account) {
                try await $0.initiate(segment: segment("Newsletter"), request: ExportRequest())
            }
            if case .ok = result.outcome { Issue.record("no token in \(reply), yet \(result.outcome)") }
            #expect(server.requests.count == 1)
        }
    }

    @Test func answersDecode() {
        #expect(InitiatedExport.decode(Array(#"{"AccessToken": 42}"#.utf8)) == .ok(InitiatedExport(accessToken: 42)))
        #expect(InitiatedExport.decode(Array(#" {"ACCESSTOKEN":"42"} "#.utf8)) == .ok(InitiatedExport(accessToken: 42)))
        for bad in [
            #"{"AccessToken": 0}"#, #"{"AccessToken": 1.5}"#, #"{"AccessToken": 99999999999999999999}"#,
            #"{"Token": 4}"#, "[42]", "",
        ] {
            guard case .undecodable = InitiatedExport.decode(Array(bad.utf8)) else {
                Issue.record("\(bad) decoded"); continue
            }
        }
    }

    /// The vendor rounds a `LastDateTime`'s milliseconds up (0–2 → 3, 3–6 → 7, 7–9 → next 0): the
    /// value sent is read as the ten-millisecond boundary at or before the window start, never later.
    @Test(arguments: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 999, 1000, 123_456_789_005])
    func theSentLastDateTimeNeverStartsTheWindowLate(offsetMs: Int64) throws {
        let startMs: Int64 = 1_780_000_000_000 + offsetMs
        let start = WallClock.date(milliseconds: startMs)
        let sent = ExportRequest.lastDateTime(for: start)
        let sentMs = WallClock.milliseconds(try #require(Timestamp.parse(sent)))
        let readMs = LastDateTime.vendorRounded(milliseconds: sentMs)
        #expect(readMs <= startMs)
        #expect(startMs - readMs < 10)
        #expect(sent.hasSuffix("9Z"))
        #expect(sent.count == 24)
    }

    @Test func theVendorsRoundingTable() {
        let table: [(Int64, Int64)] = [
            (0, 3), (1, 3), (2, 3), (3, 7), (4, 7), (6, 7), (7, 10), (8, 10), (9, 10), (999, 1000),
        ]
        for (sent, read) in table { #expect(LastDateTime.vendorRounded(milliseconds: sent) == read, "\(sent)") }
    }

    @Test func segmentNamesAreChecked() {
        for good in ["Newsletter", "Daily Contacts", "ü-ß_1.2", String(repeating: "x", count: 200)] {
            #expect(SegmentName(good) != nil, "\(good)")
        }
        for bad in [
            "", "   ", "a/b", "a\\b", "tab\there", "line\nbreak", "bidi\u{202E}x", String(repeating: "x", count: 201),
        ] {
            #expect(SegmentName(bad) == nil, "\(bad)")
        }
    }
}

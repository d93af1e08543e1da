import AsyncHTTPClient
import Foundation
import Testing

@testable import MyPreferencesSimulator
import NIOHTTP1

@Suite("Export download")
struct DownloadTests {
    @Test("Pages: 1-based offsets, Count, HasMore, the last page and past the end; exact key order")
    func pagingMath() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(.complete(records: 25), accessToken: 7)
            try await sim.expectStatus("Complete", accessToken: 7)
            let cases: [(offset: Int64, count: Int64, hasMore: Bool)] = [
                (1, 10, true), (11, 10, true), (16, 10, false), (21, 5, false), (25, 1, false), (26, 0, false),
                (1000, 0, false),
            ]
            for c in cases {
                let response = try await sim.retrievePage(accessToken: 7, offset: c.offset, limit: 10, keepAlive: true)
                #expect(response.status == 200)
                #expect(response.header("Content-Type") == "application/json; charset=utf-8")
                #expect(
                    response.body.hasPrefix(
                        "{\"Count\":\(c.count),\"HasMore\":\(c.hasMore),\"Limit\":10,\"Offset\":\(c.offset),\"TotalResults\":25,\"UserProfilePreferences\":["
                    ))
                #expect(response.body.hasSuffix("]}"))
                let page = try DownloadedPage(response.body)
                #expect(page.records.count == Int(c.count))
            }
            // Defaults: offset 1, limit 1000.
            let whole = try DownloadedPage(try await sim.retrievePage(accessToken: 7, keepAlive: true).body)
            #expect((whole.offset, whole.limit, whole.count, whole.hasMore) == (1, 1000, 25, false))
            // Page k's records are the records offset…offset+count−1 of the whole.
            let middle = try DownloadedPage(
                try await sim.retrievePage(accessToken: 7, offset: 11, limit: 10, keepAlive: true).body)
            #expect(middle.records == Array(whole.records[10..<20]))
        }
    }

    @Test(
        "Invalid limit, offset and keepAlive get 400 with a Message",
        arguments: [
            "limit=0", "limit=100001", "limit=abc", "offset=0", "offset=-3", "offset=1.5", "keepAlive=maybe",
            "limit=99999999999999999999",
        ])
    func invalidQuery(query: String) async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(.complete(records: 5), accessToken: 7)
            try await sim.expectStatus("Complete", accessToken: 7)
            let response = try await TestHTTP.send("\(sim.baseURL)/Async/ACME_Co/Export/Segment/7?\(query)")
            #expect(response.status == 400)
            #expect(try jsonObject(response.body)["Message"] is String)
            // Query names are case-insensitive; the largest limit is accepted.
            #expect(
                try await TestHTTP.send(
                    "\(sim.baseURL)/async/ACME_Co/export/segment/7?LIMIT=100000&Offset=2&keepalive=TRUE"
                ).status == 200)
        }
    }

    @Test("Records are deterministic, valid compact JSON with big ProfileIds, Unicode, escapes and deleted profiles")
    func deterministicRecords() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(.complete(records: 600), accessToken: 7)
            await sim.setScenario(.complete(records: 600, export: ExportOptions(seed: 9)), accessToken: 8)
            try await sim.expectStatus("Complete", accessToken: 7)
            try await sim.expectStatus("Complete", accessToken: 8)
            let first = try await sim.retrievePage(accessToken: 7, limit: 600, keepAlive: true).body
            let second = try await sim.retrievePage(accessToken: 7, limit: 600, keepAlive: true).body
            #expect(first == second)
            #expect(first != (try await sim.retrievePage(accessToken: 8, limit: 600, keepAlive: true).body))
            #expect(!first.utf8.contains(UInt8(ascii: "\n")))

            let records = try DownloadedPage(first).records
            #expect(records.count == 600)
            #expect(records[0].hasPrefix("{\"ProfileId\":9007199254740994,"))
            var deleted = 0
            for text in records {
                let object = try jsonObject(text)
                if object["DeletedDate"] != nil {
                    deleted += 1
                    #expect(Set(object.keys) == ["ProfileId", "DeletedDate", "ReasonCode"])
                } else {
                    #expect(text.hasPrefix("{\"ProfileId\":"))
                    #expect(text.hasSuffix("Z\"}"))
                    for key in [
                        "IsActive", "CustomerType", "CustomerName", "Consents", "ProfilePreferences", "AlternateIds",
                        "Addresses", "PhoneNumbers", "Emails", "ModifiedDate",
                    ] {
                        #expect(object[key] != nil, "\(key) missing in \(text)")
                    }
                }
            }
            #expect((3...30).contains(deleted))  // about 1 in 50
            for needle in ["\\\"", "\\\\", "\\n", "\\u2028", "\\u00e9", "ß", "日本語", "🎉"] {
                #expect(first.contains(needle), "no \(needle)")
            }
        }
    }

    @Test("The canonical sha256 equals the sha256 of every page's records plus \\n, fetched over HTTP")
    func canonicalChecksum() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(.complete(records: 2345), accessToken: 7)
            let before = try #require(await sim.export(accessToken: 7, clientID: "ACME_Co"))
            #expect(before.phase == "pending")
            try await sim.expectStatus("Complete", accessToken: 7)
            let pages = try await sim.downloadAll(accessToken: 7, limit: 1000, keepAlive: true)
            #expect(pages.map(\.count) == [1000, 1000, 345])
            var file: [UInt8] = []
            for record in pages.flatMap(\.records) { file += Array(record.utf8) + [UInt8(ascii: "\n")] }

            let export = try #require(await sim.export(accessToken: 7, clientID: "ACME_Co"))
            #expect(export.records == 2345)
            #expect(export.bytes == Int64(file.count))
            #expect(export.sha256 == sha256Hex(file))
            #expect(before.sha256 == export.sha256)
            #expect(export.pagesServed == 3)
            #expect(export.recordsServed == 2345)
            #expect(await sim.canonicalRecords(accessToken: 7, clientID: "ACME_Co", limit: 3000) == file)

            let control = try await sim.control("/_sim/exports/ACME_Co/7")
            #expect(control.status == 200)
            #expect(
                control.body
                    == "{\"records\":2345,\"bytes\":\(file.count),\"sha256\":\"\(sha256Hex(file))\",\"retrieved\":false,\"committed\":false,\"keep_files\":null,\"pages_served\":3,\"records_served\":2345,\"phase\":\"complete\"}"
            )
            #expect(try await sim.control("/_sim/exports/ACME_Co/x").status == 400)
            await sim.setScenario(Scenario([.status("Processing")]), accessToken: 9)
            #expect(try await sim.control("/_sim/exports/ACME_Co/9").status == 404)
        }
    }

    @Test("Without keepAlive the last page retrieves the export: status Retrieved, further retrieves 404")
    func lastPageRetrieves() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(.complete(records: 30, byteCount: 4321), accessToken: 7)
            try await sim.expectStatus("Complete", accessToken: 7)
            #expect(try await sim.retrievePage(accessToken: 7, offset: 1, limit: 20).status == 200)
            try await sim.expectStatus("Complete", accessToken: 7)
            #expect(try await sim.retrievePage(accessToken: 7, offset: 21, limit: 20).status == 200)
            let status = try await sim.expectStatus("Retrieved", accessToken: 7)
            #expect((status["RowCount"] as? NSNumber)?.int64Value == 30)
            #expect((status["ByteCount"] as? NSNumber)?.int64Value == 4321)
            let again = try await sim.retrievePage(accessToken: 7)
            #expect(again.status == 404)
            #expect(again.body == "{\"Message\":\"The export has already been retrieved.\"}")
            let export = try #require(await sim.export(accessToken: 7, clientID: "ACME_Co"))
            #expect(export.isRetrieved && !export.isCommitted && export.keepFiles == nil)
        }
    }

    @Test("With keepAlive only the commit retrieves; keepFiles is remembered; commit is idempotent")
    func keepAliveAndCommit() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(.complete(records: 30), accessToken: 7)
            try await sim.expectStatus("Complete", accessToken: 7)
            _ = try await sim.downloadAll(accessToken: 7, limit: 20, keepAlive: true)
            try await sim.expectStatus("Complete", accessToken: 7)
            #expect(try await sim.retrievePage(accessToken: 7, keepAlive: true).status == 200)  // still retrievable
            let commit = try await sim.commitExport(accessToken: 7, keepFiles: true)
            #expect(commit.status == 200)
            #expect(commit.body == "{\"Message\":\"Committed.\"}")
            try await sim.expectStatus("Retrieved", accessToken: 7)
            #expect(try await sim.retrievePage(accessToken: 7, keepAlive: true).status == 404)
            #expect(try await sim.commitExport(accessToken: 7, keepFiles: true).status == 200)
            let control = try jsonObject(try await sim.control("/_sim/exports/ACME_Co/7").body)
            #expect(control["retrieved"] as? Bool == true)
            #expect(control["committed"] as? Bool == true)
            #expect(control["keep_files"] as? Bool == true)
            #expect(try await sim.requests().last?.keepFiles == true)
        }
    }

    @Test("Before Complete: retrieve and commit 400; unknown tokens 404; API/3 commit form")
    func notCompleteAndUnknown() async throws {
        try await withSimulator { sim async throws in
            // The standard scenario: Processing ×3, then Complete with 1000 records.
            try await sim.expectStatus("Processing", accessToken: 1)
            let early = try await sim.retrievePage(accessToken: 1)
            #expect(early.status == 400)
            #expect(early.body == "{\"Message\":\"The export is not complete.\"}")
            #expect(try await sim.commitExport(accessToken: 1).status == 400)
            #expect(try await sim.retrievePage(accessToken: 99).status == 404)
            #expect(try await sim.commitExport(accessToken: 99).status == 404)
            #expect(try await sim.retrievePage(clientID: "Other", accessToken: 1).status == 404)
            try await sim.expectStatus("Processing", accessToken: 1)
            try await sim.expectStatus("Processing", accessToken: 1)
            try await sim.expectStatus("Complete", accessToken: 1)
            let page = try DownloadedPage(try await sim.retrievePage(accessToken: 1, keepAlive: true, api3: true).body)
            #expect((page.count, page.total) == (1000, 1000))
            #expect(try await sim.commitExport(accessToken: 1, keepFiles: false, api3: true).status == 200)
            try await sim.expectStatus("Retrieved", accessToken: 1)
            #expect(
                try await TestHTTP.send("\(sim.baseURL)/Async/ACME_Co/Export/Segment/Commit/1", method: .GET).status
                    == 405)
            #expect(try await sim.retrievePage(accessToken: 1).status == 404)
            #expect(try await TestHTTP.send("\(sim.baseURL)/Async/ACME_Co/Export/Segment/abc").status == 400)
        }
    }

    @Test("Lower-case keys and the API/3 record array name Preferences")
    func keyStyles() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(
                .complete(records: 3, export: ExportOptions(lowercaseKeys: true, recordsKey: .preferences)),
                accessToken: 7)
            try await sim.expectStatus("Complete", accessToken: 7)
            let body = try await sim.retrievePage(accessToken: 7, limit: 2, keepAlive: true, api3: true).body
            #expect(
                body.hasPrefix(
                    "{\"count\":2,\"hasMore\":true,\"limit\":2,\"offset\":1,\"totalResults\":3,\"preferences\":[{\"ProfileId\":"
                ))
            let page = try DownloadedPage(body, lowercaseKeys: true, recordsKey: "preferences")
            #expect(page.records.count == 2)
        }
    }

    @Test("Downloads pass through authentication and the host-wide 503 windows, and are recorded")
    func authWindowsAndRecords() async throws {
        let clock = TestClock()
        let configuration = SimulatorConfiguration(auth: .pnauthinfo3(users: AuthTests.users), now: clock.reader)
        try await withSimulator(configuration) { sim async throws in
            let auth = [("Authorization", AuthTests.header(clock: clock, age: 0))]
            await sim.setScenario(.complete(records: 5), accessToken: 7)
            #expect(try await sim.pollStatus(accessToken: "7", headers: auth).status == 200)
            #expect(try await sim.retrievePage(accessToken: 7).status == 401)
            #expect(try await sim.commitExport(accessToken: 7, api3: true).status == 401)
            #expect(
                try await sim.retrievePage(accessToken: 7, offset: 2, limit: 3, keepAlive: true, headers: auth).status
                    == 200)

            await sim.setHostUnavailable([
                HostUnavailableWindow(from: .zero, to: .seconds(5), retryAfter: RetryAfter(seconds: 5))
            ])
            let down = try await sim.retrievePage(accessToken: 7, headers: auth)
            #expect(down.status == 503)
            #expect(down.header("Retry-After") == "5")
            #expect(try await sim.commitExport(accessToken: 7, headers: auth).status == 503)
            clock.advance(by: 5)

            let records = await sim.requests().filter { $0.path.contains("/Segment/") }
            #expect(records.map(\.status) == [401, 401, 200, 503, 503])
            #expect(records.allSatisfy { $0.clientID == "ACME_Co" })
            #expect(records.map(\.accessToken) == [nil, nil, 7, 7, 7])  // as for status polls: set once authenticated
            #expect((records[2].offset, records[2].limit, records[2].keepAlive) == (2, 3, true))
            #expect(records[2].authScheme == "PNAUTHINFO3-HMAC-SHA256")
        }
    }

    @Test("An export of 5,000,000 records is served page by page without generating the whole")
    func hugeExport() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(.complete(records: 5_000_000), accessToken: 7)
            try await sim.expectStatus("Complete", accessToken: 7)
            let page = try DownloadedPage(
                try await sim.retrievePage(accessToken: 7, offset: 4_999_991, limit: 1000).body)
            #expect((page.count, page.hasMore, page.total) == (10, false, 5_000_000))
            #expect(page.records[9].contains("\"ProfileId\":\(10_000_000 + 5_000_000)"))
            try await sim.expectStatus("Retrieved", accessToken: 7)
        }
    }

    @Test("Scenario JSON: the export object round-trips, unknown keys and bad values are rejected")
    func scenarioJSON() async throws {
        let text = """
            {"scenarios": [{"access_token": 7, "steps": [{"status": "Complete", "row_count": 12}],
              "export": {"seed": 3, "lowercase_keys": true, "records_key": "Preferences", "expire_after_pages": 2,
                "pages": [{"offset": 1, "fault": "unavailable", "retry_after_s": 1, "times": 2},
                          {"offset": 2, "fault": "slow", "delay_ms": 10},
                          {"offset": 3, "fault": "http", "code": 404}, {"offset": 4, "fault": "reset"},
                          {"offset": 5, "fault": "short"}, {"offset": 6, "fault": "wrong_total"},
                          {"offset": 7, "fault": "server_error"}, {"offset": 8, "fault": "drop"}]}}],
             "default": {"steps": [{"status": "Complete", "row_count": 3}], "export": {"seed": 1}}}
            """
        let book = try JSONDecoder().decode(ScenarioBook.self, from: Data(text.utf8))
        let export = try #require(book.scenarios.first?.scenario.export)
        #expect(export.pages.count == 8)
        #expect(export.pages[0] == PageFault(offset: 1, .unavailable(retryAfter: RetryAfter(seconds: 1)), times: 2))
        #expect(export.pages[1].kind == .slow(delay: .milliseconds(10), chunks: 20))
        #expect(book.defaultScenario?.export?.seed == 1)
        #expect(try JSONDecoder().decode(ScenarioBook.self, from: JSONEncoder().encode(book)) == book)

        for bad in [
            #"{"access_token": 7, "steps": [{"status": "Complete"}], "export": {"sead": 1}}"#,
            #"{"access_token": 7, "steps": [{"status": "Complete"}], "export": {"pages": [{"offset": 1, "fault": "short", "code": 1}]}}"#,
            #"{"access_token": 7, "steps": [{"status": "Complete"}], "export": {"pages": [{"offset": 0, "fault": "short"}]}}"#,
            #"{"access_token": 7, "steps": [{"status": "Complete"}], "export": {"pages": [{"offset": 1, "fault": "melt"}]}}"#,
            #"{"access_token": 7, "steps": [{"status": "Complete"}], "export": {"expire_after_pages": 0}}"#,
            #"{"access_token": 7, "steps": [{"status": "Complete"}], "export": {"records_key": "Rows"}}"#,
        ] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(TokenScenario.self, from: Data(bad.utf8)) }
        }
        try await withSimulator { sim async throws in
            let response = try await sim.control("/_sim/scenarios", method: .POST, body: text)
            #expect(response.status == 200)
            try await sim.expectStatus("Complete", accessToken: 7)
            #expect(try await sim.retrievePage(accessToken: 7, limit: 1).status == 503)
        }
    }
}

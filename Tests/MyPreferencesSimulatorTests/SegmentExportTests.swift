import Foundation
import MprefCore
import Testing

@testable import MyPreferencesSimulator

/// Exports initiated for a segment, over real HTTP with an injected clock: status, download, LastDateTime windows.
@Suite("Segment exports")
struct SegmentExportTests {
    static func configuration(_ segments: [SegmentScenario], clock: TestClock) -> SimulatorConfiguration {
        SimulatorConfiguration(scenarios: ScenarioBook(segments: segments), now: clock.reader)
    }

    @Test(
        "Initiate → Processing → Complete (RowCount, ByteCount) → pages → commit; canonical sha256; ModifiedDate = change time"
    )
    func lifecycle() async throws {
        let clock = TestClock()
        let start = clock.now
        let segment = SegmentScenario(
            name: "Newsletter", clientID: "ACME_Co", records: 2500, processing: .fixed(.seconds(3)),
            history: .seconds(2500), seed: 7)
        try await withSimulator(Self.configuration([segment], clock: clock)) { sim async throws in
            clock.advance(by: 1)
            let response = try await sim.initiate(segment: "Newsletter", body: "{}")
            #expect(response.status == 200)
            #expect(response.body == #"{"AccessToken":1}"#)
            #expect(try await sim.statusCounts(accessToken: 1) == ("Processing", 0, 0))
            // Not downloadable yet.
            #expect(try await sim.retrievePage(accessToken: 1, keepAlive: true).status == 400)
            clock.advance(by: 2.5)
            #expect(try await sim.statusCounts(accessToken: 1) == ("Processing", 0, 0))
            clock.advance(by: 0.5)  // 3 s after the initiate
            let complete = try await sim.statusCounts(accessToken: 1)
            #expect(complete.status == "Complete")
            #expect(complete.rows == 2500)

            let pages = try await sim.downloadAll(accessToken: 1, limit: 1000, keepAlive: true)
            #expect(pages.map(\.count) == [1000, 1000, 500])
            #expect(pages.allSatisfy { $0.total == 2500 })
            let records = pages.flatMap(\.records)
            let file = canonicalFile(records)
            #expect(Int64(file.count) == complete.bytes)
            let expected = try #require(await sim.export(accessToken: 1, clientID: "ACME_Co"))
            #expect(expected.sha256 == sha256Hex(file))
            #expect(expected.bytes == complete.bytes)
            #expect(expected.records == 2500)
            #expect(expected.phase == "complete")
            // Base record i changed at start − 2500 s + i s.
            for (offset, record) in records.enumerated() where offset % 97 == 0 || offset == records.count - 1 {
                #expect(
                    try modifiedDate(record) == timestamp(start, plusMilliseconds: (Int64(offset) + 1 - 2500) * 1000),
                    "record \(offset + 1)")
            }
            #expect(try profileID(records[0]) == ExportRecords.profileID(atPosition: 1))

            #expect(try await sim.commitExport(accessToken: 1, keepFiles: false).status == 200)
            #expect(try await sim.statusCounts(accessToken: 1) == ("Retrieved", 2500, complete.bytes))
            let committed = try #require(await sim.export(accessToken: 1, clientID: "ACME_Co"))
            #expect(committed.isCommitted && committed.isRetrieved)
            #expect(committed.sha256 == expected.sha256)
            let control = try jsonObject(try await sim.control("/_sim/exports/ACME_Co/1").body)
            #expect(control["sha256"] as? String == expected.sha256)
            #expect(control["committed"] as? Bool == true)

            let initiations = await sim.initiations()
            #expect(
                initiations == [
                    Initiation(
                        clientID: "ACME_Co", segment: "Newsletter", accessToken: 1,
                        receivedAt: start.addingTimeInterval(1), answered: true, records: 2500,
                        readyAt: start.addingTimeInterval(4))
                ])
        }
    }

    @Test(
        "An incremental export from the previous export's time holds only the changes since; the two add up to a full export"
    )
    func incrementalWindow() async throws {
        let clock = TestClock()
        let start = clock.now
        // Base record i at start − 1000 s + i s; new change k at start + k·500 ms.
        let segment = SegmentScenario(name: "Newsletter", records: 1000, changesPerSecond: 2, history: .seconds(1000))
        try await withSimulator(Self.configuration([segment], clock: clock)) { sim async throws in
            clock.advance(by: 10.25)
            let firstTime = clock.now
            let full = try await sim.initiatedToken(segment: "Newsletter")
            #expect(try await sim.statusCounts(accessToken: full).rows == 1020)  // 1000 base + changes 1…20
            let fullRecords = try await sim.downloadRecords(accessToken: full, limit: 400)
            #expect(try modifiedDate(fullRecords[999]) == timestamp(start, plusMilliseconds: 0))
            #expect(try modifiedDate(fullRecords[1019]) == timestamp(start, plusMilliseconds: 10_000))

            clock.advance(by: 10)
            let since = Timestamp.format(firstTime)
            #expect(since == "2024-03-05T07:08:19.250Z")
            let incremental = try await sim.initiatedToken(
                segment: "Newsletter", body: #"{"LastDateTime": "\#(since)"}"#)
            #expect(try await sim.statusCounts(accessToken: incremental).rows == 20)  // changes 21…40
            let newRecords = try await sim.downloadRecords(accessToken: incremental, limit: 7)
            #expect(newRecords.count == 20)
            #expect(try modifiedDate(newRecords[0]) == timestamp(start, plusMilliseconds: 10_500))
            #expect(try modifiedDate(newRecords[19]) == timestamp(start, plusMilliseconds: 20_000))
            #expect(try Set(newRecords.map(profileID)).isDisjoint(with: try fullRecords.map(profileID)))

            let again = try await sim.initiatedToken(segment: "Newsletter")
            #expect(try await sim.statusCounts(accessToken: again).rows == 1040)
            #expect(try await sim.downloadRecords(accessToken: again) == fullRecords + newRecords)
            #expect((await sim.initiations()).map(\.lastDateTime) == [nil, since, nil])
        }
    }

    @Test("LastDateTime selects records from its rounded-up value, over HTTP")
    func roundingOverHTTP() async throws {
        let clock = TestClock()
        let start = clock.now
        // One base record per millisecond: record i at start − 1000 ms + i ms (07:08:08.001 … 07:08:09.000).
        let segment = SegmentScenario(name: "Ticks", records: 1000, history: .seconds(1))
        let cases: [(lastDateTime: String, rows: Int64, firstRecord: Int64?)] = [
            ("2024-03-05T07:08:08.000Z", 998, 3), ("2024-03-05T07:08:08.002Z", 998, 3),
            ("2024-03-05T07:08:08.003Z", 994, 7), ("2024-03-05T07:08:08.006Z", 994, 7),
            ("2024-03-05T07:08:08.007Z", 991, 10), ("2024-03-05T07:08:08.009Z", 991, 10),
            ("2024-03-05T07:08:08.010Z", 988, 13), ("2024-03-05T07:08:08.500Z", 498, 503),
            ("2024-03-05T07:08:08.998Z", 1, 1000), ("2024-03-05T07:08:08.999Z", 1, 1000),
            ("2024-03-05T07:08:08", 998, 3), ("2024-03-05T07:08:08.5", 498, 503),
            ("2024-03-05T07:00:00.000Z", 1000, 1), ("2024-03-05T07:08:09.000Z", 0, nil),
            ("2030-01-01T00:00:00.000Z", 0, nil),
        ]
        try await withSimulator(Self.configuration([segment], clock: clock)) { sim async throws in
            clock.advance(by: 1)
            for c in cases {
                let token = try await sim.initiatedToken(
                    segment: "Ticks", body: #"{"LastDateTime": "\#(c.lastDateTime)"}"#)
                let status = try await sim.statusCounts(accessToken: token)
                #expect(status.status == "Complete")
                #expect(status.rows == c.rows, "\(c.lastDateTime)")
                let page = try DownloadedPage(
                    try await sim.retrievePage(accessToken: token, limit: 1, keepAlive: true).body)
                #expect(page.total == c.rows)
                if let first = c.firstRecord {
                    #expect(
                        try modifiedDate(try #require(page.records.first))
                            == timestamp(start, plusMilliseconds: first - 1000), "\(c.lastDateTime)")
                    #expect(
                        try profileID(try #require(page.records.first)) == ExportRecords.profileID(atPosition: first))
                } else {
                    #expect(page.records.isEmpty)
                    #expect(status.bytes == 0)
                }
            }
        }
    }

    @Test(
        "MatchCriteria ProfileId keeps only the listed profiles inside the window, in order; other criteria do not filter"
    )
    func profileIDFilter() async throws {
        let clock = TestClock()
        // Base record i at start − 100 s + i s; change k at start + k s.
        let segment = SegmentScenario(name: "Newsletter", records: 100, changesPerSecond: 1, history: .seconds(100))
        try await withSimulator(Self.configuration([segment], clock: clock)) { sim async throws in
            clock.advance(by: 5)  // changes 1…4 are in, change 5 (at start + 5 s) is not
            // 07:07:19.500 (start − 49.5 s) → .503: records from 51 (at start − 49 s).
            let window = #""LastDateTime": "2024-03-05T07:07:19.500Z""#
            let wanted: [Int64] = [5, 51, 60, 60, 103, 105]  // 5 is before the window, 105 after it
            let values =
                wanted.map { "\"\(ExportRecords.profileID(atPosition: $0))\"" } + ["\"abc\"", "\"10000000\"", "\"\""]
            let body = #"{\#(window), "MatchCriteria": "ProfileId", "Values": [\#(values.joined(separator: ","))]}"#
            let filtered = try await sim.initiatedToken(segment: "Newsletter", body: body)
            #expect(try await sim.statusCounts(accessToken: filtered).rows == 3)
            let records = try await sim.downloadRecords(accessToken: filtered)
            #expect(try records.map(profileID) == [51, 60, 103].map(ExportRecords.profileID(atPosition:)))
            let expected = try #require(await sim.export(accessToken: filtered, clientID: "ACME_Co"))
            #expect(expected.sha256 == sha256Hex(canonicalFile(records)))

            let byEmail = try await sim.initiatedToken(
                segment: "Newsletter",
                body: #"{\#(window), "MatchCriteria": "EmailAddress", "Values": ["user60.0@example.com"]}"#)
            #expect(try await sim.statusCounts(accessToken: byEmail).rows == 54)  // 51…104
            #expect((await sim.initiations()).map(\.matchCriteria) == ["ProfileId", "EmailAddress"])
        }
    }

    @Test("A scenario of the token's own wins over the initiated export")
    func ownScenarioWins() async throws {
        let clock = TestClock()
        try await withSimulator(Self.configuration([SegmentScenario(name: "Newsletter", records: 10)], clock: clock)) {
            sim async throws in
            await sim.setScenario(Scenario([.status("Failed")]), accessToken: 1)
            clock.advance(by: 1)
            #expect(try await sim.initiatedToken(segment: "Newsletter") == 1)
            #expect(try await sim.statusCounts(accessToken: 1) == ("Failed", 0, 0))
            #expect(await sim.export(accessToken: 1, clientID: "ACME_Co") == nil)
            #expect(try await sim.initiatedToken(segment: "Newsletter") == 2)
            let second = try await sim.statusCounts(accessToken: 2)
            let expected = try #require(await sim.export(accessToken: 2, clientID: "ACME_Co"))
            #expect(second == ("Complete", 10, expected.bytes))
            // The export belongs to the client ID that initiated it: another one sees the default scenario.
            #expect(try await sim.statusCounts(clientID: "Northwind", accessToken: 2).status == "Processing")
        }
    }

    @Test(
        "API/3 routes; a log-normal duration; retrieve without a Complete poll once ready; page options from the segment"
    )
    func api3AndLogNormal() async throws {
        let clock = TestClock()
        let segment = SegmentScenario(
            name: "Opt Outs", records: 30, processing: .logNormal(median: .seconds(60), sigma: 0.5),
            history: .seconds(30), seed: 3,
            export: ExportOptions(lowercaseKeys: true))
        try await withSimulator(Self.configuration([segment], clock: clock)) { sim async throws in
            clock.advance(by: 1)
            let token = try await sim.initiatedToken(segment: "Opt Outs", api3: true)
            let duration = segment.processingTime(forAccessToken: token).secondsDouble
            #expect(duration != 60)
            // When it becomes Complete: the initiate's time plus this token's own draw, in the record and over HTTP.
            let readyAt = try #require(await sim.initiations().first?.readyAt)
            #expect(abs(readyAt.timeIntervalSince(clock.now) - duration) < 1e-6, "\(readyAt) vs now + \(duration) s")
            let listed = try #require(
                try JSONSerialization.jsonObject(with: Data(try await sim.control("/_sim/initiations").body.utf8))
                    as? [[String: Any]])
            #expect(listed.first?["ready_at"] as? String == Timestamp.format(readyAt))
            let api3Status = try await TestHTTP.send("\(sim.baseURL)/ACME_Co/status/Token/\(token)")
            #expect(try jsonObject(api3Status.body)["Status"] as? String == "Processing")
            clock.advance(by: duration - 0.01)
            #expect(try await sim.retrievePage(accessToken: token, api3: true).status == 400)
            clock.advance(by: 0.02)
            // Ready: downloadable without a status poll first.
            let page = try await sim.retrievePage(accessToken: token, limit: 100, keepAlive: true, api3: true)
            #expect(page.status == 200)
            #expect(
                try DownloadedPage(page.body, lowercaseKeys: true, recordsKey: "userProfilePreferences").count == 30)
            let status = try await sim.statusCounts(accessToken: token)
            #expect((status.status, status.rows) == ("Complete", 30))
            #expect(try await sim.commitExport(accessToken: token, api3: true).status == 200)
        }
    }
}

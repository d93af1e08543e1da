import Foundation
import MprefCore
import Testing

@testable import MyPreferencesSimulator

/// The pure parts of segment exports: change times, the vendor's LastDateTime rounding, the initiate body,
/// the book's `segments` key and the processing-time draw. No sockets.
@Suite("Segments (pure)")
struct SegmentUnitTests {
    // MARK: LastDateTime rounding

    /// The vendor's sentence: "milliseconds are rounded up to a boundary (000–002 → 003, 003–006 → 007,
    /// 007–009 → 000 of the next unit)", applied to the last digit of the milliseconds.
    @Test(
        "LastDateTime rounds up as the vendor documents",
        arguments: [
            ("2024-03-05T07:08:09.000Z", "2024-03-05T07:08:09.003Z"),
            ("2024-03-05T07:08:09.001Z", "2024-03-05T07:08:09.003Z"),
            ("2024-03-05T07:08:09.002Z", "2024-03-05T07:08:09.003Z"),
            ("2024-03-05T07:08:09.003Z", "2024-03-05T07:08:09.007Z"),
            ("2024-03-05T07:08:09.004Z", "2024-03-05T07:08:09.007Z"),
            ("2024-03-05T07:08:09.005Z", "2024-03-05T07:08:09.007Z"),
            ("2024-03-05T07:08:09.006Z", "2024-03-05T07:08:09.007Z"),
            ("2024-03-05T07:08:09.007Z", "2024-03-05T07:08:09.010Z"),
            ("2024-03-05T07:08:09.008Z", "2024-03-05T07:08:09.010Z"),
            ("2024-03-05T07:08:09.009Z", "2024-03-05T07:08:09.010Z"),
            ("2024-03-05T07:08:09.120Z", "2024-03-05T07:08:09.123Z"),
            ("2024-03-05T07:08:09.455Z", "2024-03-05T07:08:09.457Z"),
            ("2024-03-05T07:08:09.998Z", "2024-03-05T07:08:10.000Z"),
            ("2024-03-05T07:08:59.999Z", "2024-03-05T07:09:00.000Z"),
            ("2024-12-31T23:59:59.997Z", "2025-01-01T00:00:00.000Z"),
            ("2024-03-05T07:08:09Z", "2024-03-05T07:08:09.003Z"),  // no fraction: .000
            ("2024-03-05T07:08:09.5Z", "2024-03-05T07:08:09.503Z"),  // .5 = .500
            ("2024-03-05T07:08:09.12", "2024-03-05T07:08:09.123Z"),  // no Z: UTC; .12 = .120
            ("2024-03-05T07:08:09.126", "2024-03-05T07:08:09.127Z"),
        ])
    func rounding(lastDateTime: String, expected: String) throws {
        let milliseconds = try #require(InitiateRequest.milliseconds(lastDateTime: lastDateTime))
        let rounded = LastDateTime.vendorRounded(milliseconds: milliseconds)
        #expect(Timestamp.format(Date(timeIntervalSince1970: Double(rounded) / 1000 + 0.0001)) == expected)
    }

    @Test(
        "LastDateTime outside the documented forms is refused",
        arguments: [
            "", "2024-03-05", "2024-03-05 07:08:09Z", "2024-03-05t07:08:09Z", "2024-03-05T07:08:09z",
            "2024-03-05T07:08:09.1234Z",
            "2024-03-05T07:08:09.Z", "2024-03-05T07:08:09+01:00", "2024-02-30T07:08:09Z", "2024-03-05T24:00:00Z",
            "2024-03-05T07:08:60Z",
            "2024-03-05T07:08:09ZZ", "yesterday",
        ])
    func badLastDateTime(text: String) {
        #expect(InitiateRequest.milliseconds(lastDateTime: text) == nil)
    }

    // MARK: Change times

    @Test("Base records spread over the history up to start; new changes at start + k/rate; whole milliseconds")
    func changeTimes() {
        let start: Int64 = 1_709_622_489_000
        let timeline = SegmentTimeline(
            baseRecords: 3, startMilliseconds: start, historyMilliseconds: 1000, changesPerSecond: 2)
        #expect(
            (1...6).map { timeline.changeTime(ofRecordAt: $0) } == [
                start - 1000 + 333, start - 1000 + 666, start, start + 500, start + 1000, start + 1500,
            ])
        let none = SegmentTimeline(
            baseRecords: 2, startMilliseconds: start, historyMilliseconds: 0, changesPerSecond: 0)
        #expect(none.changeTime(ofRecordAt: 1) == start)
        #expect(none.changeTime(ofRecordAt: 3) == .max)
        // 10^12 records over ten years: no overflow.
        let huge = SegmentTimeline(
            baseRecords: 1_000_000_000_000, startMilliseconds: start, historyMilliseconds: 315_360_000_000,
            changesPerSecond: 0)
        #expect(huge.changeTime(ofRecordAt: 1_000_000_000_000) == start)
        #expect(huge.changeTime(ofRecordAt: 500_000_000_000) == start - 157_680_000_000)
    }

    @Test(
        "recordsChanged(before:) agrees with a linear scan",
        arguments: [
            (5, 1000, 2.0), (7, 3, 0.0), (0, 0, 3.0), (10, 0, 1500.0), (4, 10_000, 0.3), (0, 86_400_000, 0.0),
            (1000, 1, 7.0),
        ] as [(Int64, Int64, Double)])
    func countsAgreeWithScan(baseRecords: Int64, historyMilliseconds: Int64, rate: Double) {
        let start: Int64 = 1_000_000
        let timeline = SegmentTimeline(
            baseRecords: baseRecords, startMilliseconds: start, historyMilliseconds: historyMilliseconds,
            changesPerSecond: rate)
        let horizon: Int64 = 5000
        let newChanges = Int64(rate * Double(horizon + 1) / 1000) + 10
        let positions = (1...(baseRecords + newChanges)).map { ($0, timeline.changeTime(ofRecordAt: $0)) }
        for (a, b) in zip(positions, positions.dropFirst()) {
            #expect(a.1 <= b.1, "change times decrease at \(b.0)")
        }
        let step: Int64 = max(1, (historyMilliseconds + horizon) / 997)
        var before: Int64 = start - historyMilliseconds - 2
        while before <= start + horizon {
            let scanned = Int64(positions.filter { $0.1 < before }.count)
            #expect(timeline.recordsChanged(before: before) == scanned, "before \(before)")
            before += step
        }
    }

    // MARK: Initiate body

    @Test("Initiate bodies: empty, {}, every key in any case, null as absent")
    func goodBodies() throws {
        #expect(try InitiateRequest(body: []) == InitiateRequest())
        #expect(try InitiateRequest(body: Array(" \n".utf8)) == InitiateRequest())
        #expect(try InitiateRequest(body: Array("{}".utf8)) == InitiateRequest())
        let full = try InitiateRequest(
            body: Array(
                #"""
                {"callbackurl": "https://etl.example/cb", "LASTDATETIME": "2024-03-05T07:08:09.120Z", "MatchCriteria": "profileid",
                 "matchType": null, "Values": ["10000002", "x"], "Unrelated": 5}
                """#.utf8))
        #expect(full.callbackURL == "https://etl.example/cb")
        #expect(full.lastDateTime == "2024-03-05T07:08:09.120Z")
        #expect(full.lastDateTimeMilliseconds == 1_709_622_489_120)
        #expect(full.matchCriteria == .profileID)
        #expect(full.values == ["10000002", "x"])
        let alternate = try InitiateRequest(
            body: Array(#"{"MatchCriteria": "AlternateId", "MatchType": "CRM", "Values": ["CRM-1"]}"#.utf8))
        #expect(alternate.matchCriteria == .alternateID)
        #expect(alternate.matchType == "CRM")
    }

    @Test(
        "Bad initiate bodies are refused with a message naming the problem",
        arguments: [
            ("{", "not valid JSON"),
            ("[]", "must be a JSON object"),
            ("\"x\"", "must be a JSON object"),
            (#"{"LastDateTime": 5}"#, "'LastDateTime' must be a string"),
            (#"{"LastDateTime": "2024-03-05 07:08:09"}"#, "'LastDateTime' must be YYYY-MM-DDTHH:mm:ss.sssZ"),
            (#"{"CallbackURL": true}"#, "'CallbackURL' must be a string"),
            (
                #"{"MatchCriteria": "Name", "Values": ["a"]}"#,
                "'MatchCriteria' must be one of ProfileId, AlternateId, PhoneNumber, EmailAddress"
            ),
            (#"{"MatchCriteria": "AlternateId", "Values": ["a"]}"#, "'MatchType' is required"),
            (#"{"MatchCriteria": "ProfileId"}"#, "needs a non-empty 'Values'"),
            (#"{"MatchCriteria": "ProfileId", "Values": []}"#, "needs a non-empty 'Values'"),
            (#"{"Values": ["1"]}"#, "'Values' needs 'MatchCriteria'"),
            (#"{"MatchCriteria": "ProfileId", "Values": [1]}"#, "'Values' must be an array of strings"),
            (#"{"MatchCriteria": "ProfileId", "Values": "1"}"#, "'Values' must be an array of strings"),
            (#"{"LastDateTime": "2024-03-05T07:08:09Z", "lastdatetime": "2024-03-05T07:08:09Z"}"#, "given twice"),
        ])
    func badBodies(body: String, expected: String) {
        let error = #expect(throws: InitiateRequest.Invalid.self) { try InitiateRequest(body: Array(body.utf8)) }
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
    }

    @Test("Too many Values are refused")
    func tooManyValues() {
        let values = (0...InitiateRequest.maximumValues).map { "\"\($0)\"" }.joined(separator: ",")
        #expect(throws: InitiateRequest.Invalid.self) {
            try InitiateRequest(body: Array(#"{"MatchCriteria": "ProfileId", "Values": [\#(values)]}"#.utf8))
        }
    }

    // MARK: The book's segments

    @Test("Segments decode from the scenario book and round-trip")
    func bookSegments() throws {
        let json = """
            {"segments": [
              {"name": "Newsletter", "client_id": "ACME_Co", "records": 12000, "processing_s": 3.5, "changes_per_s": 2,
               "history_s": 86400, "seed": 7,
               "initiate_faults": [ {"drop": true}, {"delay_s": 1.5}, {"unavailable": {"retry_after_s": 2}},
                                    {"unavailable": {}}, {"http": 500, "creates": true}, {"http": 502} ],
               "export": {"lowercase_keys": true, "pages": [ {"offset": 1, "fault": "server_error"} ]}},
              {"name": "All", "records": 0, "duration": {"median_s": 900, "sigma": 0.3}}
            ]}
            """
        let book = try JSONDecoder().decode(ScenarioBook.self, from: Data(json.utf8))
        #expect(
            book.segments == [
                SegmentScenario(
                    name: "Newsletter", clientID: "ACME_Co", records: 12000, processing: .fixed(.milliseconds(3500)),
                    changesPerSecond: 2,
                    history: .seconds(86_400), seed: 7,
                    initiateFaults: [
                        .drop, .delay(.milliseconds(1500)), .unavailable(retryAfter: RetryAfter(seconds: 2)),
                        .unavailable(retryAfter: nil),
                        .http(code: 500, creates: true), .http(code: 502, creates: false),
                    ],
                    export: ExportOptions(lowercaseKeys: true, pages: [PageFault(offset: 1, .serverError)])),
                SegmentScenario(name: "All", records: 0, processing: .logNormal(median: .seconds(900), sigma: 0.3)),
            ])
        let again = try JSONDecoder().decode(ScenarioBook.self, from: try JSONEncoder().encode(book))
        #expect(again == book)
    }

    @Test(
        "Invalid segments are rejected with a message naming the problem",
        arguments: [
            (#"{"segments": [{"name": "N", "records": 1, "Seed": 3}]}"#, "unknown key 'Seed'"),
            (#"{"segments": [{"records": 1}]}"#, "name"),
            (#"{"segments": [{"name": "", "records": 1}]}"#, "'name' must not be empty"),
            (#"{"segments": [{"name": "N"}]}"#, "records"),
            (#"{"segments": [{"name": "N", "records": -1}]}"#, "'records' must be from 0 to 1000000000000"),
            (#"{"segments": [{"name": "N", "records": 1000000000001}]}"#, "'records' must be from 0"),
            (
                #"{"segments": [{"name": "N", "records": 1, "processing_s": 1, "duration": {"median_s": 1, "sigma": 0}}]}"#,
                "not both"
            ),
            (#"{"segments": [{"name": "N", "records": 1, "processing_s": -1}]}"#, "'processing_s' must be from 0"),
            (
                #"{"segments": [{"name": "N", "records": 1, "duration": {"median_s": 0, "sigma": 0.3}}]}"#,
                "'median_s' must be > 0"
            ),
            (
                #"{"segments": [{"name": "N", "records": 1, "duration": {"median_s": 5, "sigma": -1}}]}"#,
                "'sigma' must be from 0"
            ),
            (#"{"segments": [{"name": "N", "records": 1, "duration": {"median_s": 5}}]}"#, "sigma"),
            (#"{"segments": [{"name": "N", "records": 1, "changes_per_s": -2}]}"#, "'changes_per_s' must be from 0"),
            (#"{"segments": [{"name": "N", "records": 1, "history_s": -2}]}"#, "'history_s' must be from 0"),
            (#"{"segments": [{"name": "N", "records": 1, "seed": -2}]}"#, "'seed' must be ≥ 0"),
            (
                #"{"segments": [{"name": "N", "records": 1, "initiate_faults": [{"drop": true, "delay_s": 1}]}]}"#,
                "exactly one of"
            ),
            (
                #"{"segments": [{"name": "N", "records": 1, "initiate_faults": [{"drop": false}]}]}"#,
                "'drop' must be true"
            ),
            (
                #"{"segments": [{"name": "N", "records": 1, "initiate_faults": [{"drop": true, "creates": true}]}]}"#,
                "'creates' only belongs"
            ),
            (#"{"segments": [{"name": "N", "records": 1, "initiate_faults": [{"http": 99}]}]}"#, "100–599"),
            (
                #"{"segments": [{"name": "N", "records": 1, "initiate_faults": [{"delay_s": -1}]}]}"#,
                "'delay_s' must be from 0"
            ),
            (
                #"{"segments": [{"name": "N", "records": 1, "initiate_faults": [{"unavailable": {"after": 1}}]}]}"#,
                "unknown key 'after'"
            ),
            (#"{"segments": [{"name": "N", "records": 1, "export": {"seed": 4}}]}"#, "the entry's own 'seed'"),
            (#"{"segments": {"name": "N", "records": 1}}"#, "segments"),
        ])
    func invalidSegments(json: String, expected: String) throws {
        let error = try #require(throws: DecodingError.self) {
            try JSONDecoder().decode(ScenarioBook.self, from: Data(json.utf8))
        }
        let description = ScenarioBook.describe(error)
        #expect(description.contains(expected), "\(description)")
    }

    // MARK: Processing time

    @Test("A log-normal processing time is deterministic per seed and token and centred on the median")
    func logNormalDuration() {
        let segment = SegmentScenario(
            name: "N", records: 1, processing: .logNormal(median: .seconds(900), sigma: 0.3), seed: 7)
        #expect(segment.processingTime(forAccessToken: 42) == segment.processingTime(forAccessToken: 42))
        var reseeded = segment
        reseeded.seed = 8
        #expect(reseeded.processingTime(forAccessToken: 42) != segment.processingTime(forAccessToken: 42))
        let draws = (1...2001).map { segment.processingTime(forAccessToken: Int64($0)).secondsDouble }.sorted()
        let median = draws[1000]
        #expect(abs(median - 900) < 900 * 0.05, "median \(median)")
        // sigma 0.3: about 68 % of the draws within a factor e^0.3 of the median.
        let within = draws.filter { $0 >= 900 * exp(-0.3) && $0 <= 900 * exp(0.3) }.count
        #expect((1250...1480).contains(within), "\(within) of 2001 within one sigma")
        let fixed = SegmentScenario(name: "N", records: 1, processing: .fixed(.milliseconds(1500)))
        #expect(fixed.processingTime(forAccessToken: 9) == .milliseconds(1500))
        let zeroSigma = SegmentScenario(name: "N", records: 1, processing: .logNormal(median: .seconds(60), sigma: 0))
        #expect(zeroSigma.processingTime(forAccessToken: 3) == .seconds(60))
    }

    @Test("ProfileIds map back to dataset positions")
    func profileIDInverse() {
        for position: Int64 in [1, 2, 3, 4, 5, 1000, 1001, 123_456_789, 1_000_000_000_000] {
            #expect(ExportRecords.position(ofProfileID: ExportRecords.profileID(atPosition: position)) == position)
        }
        #expect(ExportRecords.position(ofProfileID: 10_000_001) == nil)  // position 1 has the big form
        #expect(ExportRecords.position(ofProfileID: 9_007_199_254_740_993) == nil)
        #expect(ExportRecords.position(ofProfileID: 10_000_000) == nil)
        #expect(ExportRecords.position(ofProfileID: 5) == nil)
        #expect(ExportRecords.position(ofProfileID: .min) == nil)
        #expect(ExportRecords.position(ofProfileID: .max) == nil)
    }
}

/// Issue 16 §3: a segment's callback keys.
@Suite("Segment callbacks (pure)")
struct SegmentCallbackKeyTests {
    func decode(_ json: String) throws -> SegmentScenario {
        try JSONDecoder().decode(SegmentScenario.self, from: Data(json.utf8))
    }

    @Test func theKeysDecodeWithTheirDefaultsAndRoundTrip() throws {
        let plain = try decode(#"{"name": "N", "records": 1}"#)
        #expect(plain.callbackDelay == .milliseconds(500) && plain.callbackFailureRate == 0)
        let set = try decode(#"{"name": "N", "records": 1, "callback_delay_s": 0.25, "callback_failure_rate": 0.5}"#)
        #expect(set.callbackDelay == .milliseconds(250) && set.callbackFailureRate == 0.5)
        #expect(try decode(String(decoding: try JSONEncoder().encode(set), as: UTF8.self)) == set)
    }

    @Test(arguments: [
        (#"{"name": "N", "records": 1, "callback_delay_s": -1}"#, "callback_delay_s"),
        (#"{"name": "N", "records": 1, "callback_delay_s": 3601}"#, "callback_delay_s"),
        (#"{"name": "N", "records": 1, "callback_failure_rate": 1.5}"#, "callback_failure_rate"),
        (#"{"name": "N", "records": 1, "callback_failure_rate": -0.1}"#, "callback_failure_rate"),
        (#"{"name": "N", "records": 1, "callback_retries": 2}"#, "callback_retries"),
    ])
    func outOfRangeOrUnknownKeysAreRefused(_ json: String, _ key: String) {
        #expect(throws: (any Error).self) { try decode(json) }
        do {
            _ = try decode(json)
        } catch {
            #expect(ScenarioBook.describe(error).contains(key), "\(ScenarioBook.describe(error))")
        }
    }

    @Test func theFailureRateIsSeededPerExportAndRoughlyKept() {
        let none = SegmentScenario(name: "N", records: 1, callbackFailureRate: 0)
        let all = SegmentScenario(name: "N", records: 1, callbackFailureRate: 1)
        let half = SegmentScenario(name: "N", records: 1, seed: 7, callbackFailureRate: 0.5)
        #expect((1...200).allSatisfy { !none.dropsCallback(forAccessToken: $0) })
        #expect((1...200).allSatisfy { all.dropsCallback(forAccessToken: $0) })
        let dropped = (1...1000).filter { half.dropsCallback(forAccessToken: Int64($0)) }.count
        #expect((350...650).contains(dropped), "\(dropped) of 1000")
        #expect(
            (1...50).map { half.dropsCallback(forAccessToken: $0) }
                == (1...50).map { half.dropsCallback(forAccessToken: $0) })
    }
}

import AsyncHTTPClient
import Foundation
import Testing

@testable import MyPreferencesSimulator
import NIOHTTP1

@Suite("Scenarios")
struct ScenarioTests {
    /// The `Status` of a 200 answer, or the HTTP code as a string.
    private func outcome(_ response: SimpleResponse) throws -> String {
        guard response.status == 200 else { return String(response.status) }
        return try #require(try jsonObject(response.body)["Status"] as? String)
    }

    @Test("Steps repeat as told and the last step repeats forever")
    func multiStep() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(
                Scenario([
                    .status("Processing", repeat: 2),
                    .http(500),
                    .http(404, repeat: 2),
                    .status("Complete", rowCount: 10, byteCount: 20),
                ]), accessToken: 42)
            var seen: [String] = []
            for _ in 0..<8 { seen.append(try outcome(try await sim.pollStatus(accessToken: "42"))) }
            #expect(seen == ["Processing", "Processing", "500", "404", "404", "Complete", "Complete", "Complete"])
            // Another token is untouched by token 42's progress.
            #expect(try outcome(try await sim.pollStatus(accessToken: "43")) == "Processing")
        }
    }

    @Test("A client-specific scenario wins over a token-only one; progress is per client ID and token")
    func scenarioPrecedence() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(Scenario([.status("Expired")]), accessToken: 5)
            await sim.setScenario(Scenario([.status("Retrieved")]), accessToken: 5, clientID: "Northwind")
            #expect(try outcome(try await sim.pollStatus(clientID: "Northwind", accessToken: "5")) == "Retrieved")
            #expect(try outcome(try await sim.pollStatus(clientID: "ACME_Co", accessToken: "5")) == "Expired")
        }
    }

    @Test("503 with Retry-After in delta-seconds")
    func retryAfterSeconds() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(
                Scenario([.unavailable(retryAfter: RetryAfter(seconds: 3)), .status("Complete")]), accessToken: 1)
            let response = try await sim.pollStatus(accessToken: "1")
            #expect(response.status == 503)
            #expect(response.header("Retry-After") == "3")
            #expect(try outcome(try await sim.pollStatus(accessToken: "1")) == "Complete")
        }
    }

    @Test("503 with Retry-After as an IMF-fixdate computed at request time")
    func retryAfterHTTPDate() async throws {
        let clock = TestClock()
        try await withSimulator(SimulatorConfiguration(now: clock.reader)) { sim async throws in
            await sim.setScenario(
                Scenario([.unavailable(retryAfter: RetryAfter(seconds: 90, form: .httpDate))]), accessToken: 1)
            clock.advance(by: 100)  // the date must follow the request time, not the time the scenario was set
            let response = try await sim.pollStatus(accessToken: "1")
            #expect(response.status == 503)
            let header = try #require(response.header("Retry-After"))
            #expect(header == "Tue, 05 Mar 2024 07:11:19 GMT")
            let parsed = try #require(httpDateFormatter().date(from: header))
            #expect(parsed == clock.now.addingTimeInterval(90))
        }
    }

    @Test("503 without Retry-After when none is scripted")
    func unavailableWithoutRetryAfter() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(Scenario([.unavailable()]), accessToken: 1)
            let response = try await sim.pollStatus(accessToken: "1")
            #expect(response.status == 503)
            #expect(response.header("Retry-After") == nil)
        }
    }

    @Test("delay_ms holds the answer back")
    func delay() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(Scenario([.status("Complete", delay: .milliseconds(400))]), accessToken: 1)
            let clock = ContinuousClock()
            let started = clock.now
            let response = try await sim.pollStatus(accessToken: "1")
            #expect(clock.now - started >= .milliseconds(400))
            #expect(response.status == 200)
        }
    }

    @Test("a request held by delay_ms is in flight, not recorded, until it ends", .timeLimit(.minutes(1)))
    func heldRequestIsInFlight() async throws {
        try await withSimulator { sim async throws in
            // Held far longer than the test takes: nothing below depends on how fast the machine is.
            await sim.setScenario(Scenario([.status("Processing", delay: .seconds(60))]), accessToken: 1)
            #expect(await sim.requestsInFlight() == 0)
            let held = Task { try await sim.pollStatus(accessToken: "1") }
            await sim.waitForRequestsInFlight(1)
            #expect(await sim.requestsInFlight() == 1)
            #expect(await sim.requests().isEmpty)
            _ = try await sim.pollStatus(accessToken: "2")  // answered at once: in flight, then not
            #expect(await sim.requestsInFlight() == 1)
            #expect(await sim.requests().map(\.accessToken) == [2])
            // Stopping gives the held request 3 s, then cancels it: no longer in flight either.
            await sim.stop()
            _ = try? await held.value
            #expect(await sim.requestsInFlight() == 0)
        }
    }

    @Test("raw answers exactly the scripted code, content type and body")
    func raw() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(
                Scenario([.raw(code: 200, contentType: "application/json", body: #"{"AccessToken": 1, "Stat"#)]),
                accessToken: 1)
            let response = try await sim.pollStatus(accessToken: "1")
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.body == #"{"AccessToken": 1, "Stat"#)
        }
    }

    @Test("http step with a custom body and with the default body")
    func httpStep() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(Scenario([.http(403, body: "nope"), .http(502)]), accessToken: 1)
            let custom = try await sim.pollStatus(accessToken: "1")
            #expect(custom.status == 403)
            #expect(custom.body == "nope")
            let standard = try await sim.pollStatus(accessToken: "1")
            #expect(standard.status == 502)
            #expect(try jsonObject(standard.body)["Message"] is String)
        }
    }

    @Test("drop closes the connection without a response; the next poll is answered")
    func drop() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(Scenario([.drop(), .status("Complete")]), accessToken: 1)
            await #expect(throws: (any Error).self) {
                _ = try await sim.pollStatus(accessToken: "1")
            }
            #expect(try outcome(try await sim.pollStatus(accessToken: "1")) == "Complete")
            let records = await sim.requests()
            #expect(records.count == 2)
            #expect(records.first?.status == nil)
            #expect(records.last?.status == 200)
        }
    }

    @Test("Host-wide 503 window relative to start answers every API request and holds token progress")
    func hostWindowFromStart() async throws {
        let clock = TestClock()
        let book = ScenarioBook(hostUnavailable: [
            HostUnavailableWindow(from: .seconds(5), to: .seconds(10), retryAfter: RetryAfter(seconds: 3))
        ])
        try await withSimulator(SimulatorConfiguration(scenarios: book, now: clock.reader)) { sim async throws in
            #expect(try outcome(try await sim.pollStatus(accessToken: "1")) == "Processing")
            clock.advance(by: 6)
            for token in ["1", "2", "1"] {
                let response = try await sim.pollStatus(accessToken: token)
                #expect(response.status == 503)
                #expect(response.header("Retry-After") == "3")
            }
            let initiate = try await TestHTTP.send("\(sim.baseURL)/Async/ACME_Co/Export/Segment/x", method: .POST)
            #expect(initiate.status == 503)
            clock.advance(by: 4)  // t = 10 s: the window has closed
            // Token 1 was polled once before the window: two Processing polls left, then Complete.
            var seen: [String] = []
            for _ in 0..<3 { seen.append(try outcome(try await sim.pollStatus(accessToken: "1"))) }
            #expect(seen == ["Processing", "Processing", "Complete"])
        }
    }

    @Test("Host-wide 503 window set at runtime counts from then, with an HTTP-date")
    func hostWindowAtRuntime() async throws {
        let clock = TestClock()
        try await withSimulator(SimulatorConfiguration(now: clock.reader)) { sim async throws in
            clock.advance(by: 1000)
            await sim.setHostUnavailable([
                HostUnavailableWindow(from: .zero, to: .seconds(2), retryAfter: RetryAfter(seconds: 2, form: .httpDate))
            ])
            let down = try await sim.pollStatus(accessToken: "1")
            #expect(down.status == 503)
            #expect(httpDateFormatter().date(from: down.header("Retry-After") ?? "") == clock.now.addingTimeInterval(2))
            clock.advance(by: 2)
            #expect(try await sim.pollStatus(accessToken: "1").status == 200)
        }
    }

    // MARK: JSON form

    @Test("The scenario file format decodes into the Swift API and round-trips")
    func bookDecoding() throws {
        let json = """
            {
              "default": [ {"status": "Processing", "repeat": 2}, {"status": "Complete", "row_count": 1000, "byte_count": 123456} ],
              "scenarios": [
                {"access_token": 42, "steps": [
                   {"http": 404, "repeat": 2},
                   {"http": {"code": 500, "body": "boom"}},
                   {"unavailable": {"retry_after_s": 3, "form": "http-date"}},
                   {"unavailable": {}},
                   {"status": "Processing", "delay_ms": 250},
                   {"drop": true},
                   {"raw": {"code": 200, "content_type": "text/plain", "body": "x"}},
                   {"status": "Complete", "row_count": 7, "byte_count": 99, "expires": "2030-01-01T00:00:00Z"} ]},
                {"client_id": "ACME_Co", "access_token": 43, "steps": [ {"status": "Failed"} ]}
              ],
              "host_unavailable": [ {"from_s": 5, "to_s": 10.5, "retry_after_s": 3, "form": "seconds"} ]
            }
            """
        let book = try JSONDecoder().decode(ScenarioBook.self, from: Data(json.utf8))
        #expect(
            book.defaultScenario
                == Scenario([.status("Processing", repeat: 2), .status("Complete", rowCount: 1000, byteCount: 123_456)])
        )
        #expect(book.scenarios.count == 2)
        #expect(book.scenarios[0].clientID == nil)
        #expect(
            book.scenarios[0].scenario.steps == [
                .http(404, repeat: 2),
                .http(500, body: "boom"),
                .unavailable(retryAfter: RetryAfter(seconds: 3, form: .httpDate)),
                .unavailable(),
                .status("Processing", delay: .milliseconds(250)),
                .drop(),
                .raw(code: 200, contentType: "text/plain", body: "x"),
                .status("Complete", rowCount: 7, byteCount: 99, expires: "2030-01-01T00:00:00Z"),
            ])
        #expect(book.scenarios[1].clientID == "ACME_Co")
        #expect(
            book.hostUnavailable == [
                HostUnavailableWindow(from: .seconds(5), to: .milliseconds(10_500), retryAfter: RetryAfter(seconds: 3))
            ])
        let again = try JSONDecoder().decode(ScenarioBook.self, from: try JSONEncoder().encode(book))
        #expect(again == book)
    }

    @Test(
        "Invalid scenario JSON is rejected with a message naming the problem",
        arguments: [
            (#"{"scenarios": [{"access_token": 1, "steps": [{"Status": "Complete"}]}]}"#, "unknown key 'Status'"),
            (
                #"{"scenarios": [{"access_token": 1, "steps": [{"status": "Complete", "http": 500}]}]}"#,
                "exactly one of"
            ),
            (#"{"scenarios": [{"access_token": 1, "steps": []}]}"#, "at least one step"),
            (
                #"{"scenarios": [{"access_token": 1, "steps": [{"status": "Complete", "repeat": 0}]}]}"#,
                "'repeat' must be at least 1"
            ),
            (#"{"scenarios": [{"access_token": 1, "steps": [{"http": 99}]}]}"#, "100–599"),
            (
                #"{"scenarios": [{"access_token": 1, "steps": [{"unavailable": {"retry_after_s": 3, "form": "minutes"}}]}]}"#,
                "form"
            ),
            (#"{"scenarios": [{"steps": [{"drop": true}]}]}"#, "access_token"),
            (#"{"host_unavailable": [{"from_s": 10, "to_s": 5}]}"#, "from_s"),
            (#"{"scenario": []}"#, "unknown key 'scenario'"),
        ])
    func invalidBooks(json: String, expected: String) throws {
        let error = try #require(throws: DecodingError.self) {
            try JSONDecoder().decode(ScenarioBook.self, from: Data(json.utf8))
        }
        let description = ScenarioBook.describe(error)
        #expect(description.contains(expected), "\(description)")
    }

    @Test("Scenario files load from disk; errors name the file")
    func scenarioFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sim-scenarios-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good.json")
        try Data(#"{"scenarios": [{"access_token": 3, "steps": [{"status": "Complete"}]}]}"#.utf8).write(to: good)
        #expect(try ScenarioBook(contentsOfFile: good.path).scenarios.first?.accessToken == 3)
        let bad = directory.appendingPathComponent("bad.json")
        try Data(#"{"scenarios": [{"access_token": "x", "steps": []}]}"#.utf8).write(to: bad)
        let error = try #require(throws: ScenarioFileError.self) { try ScenarioBook(contentsOfFile: bad.path) }
        #expect(error.description.contains("bad.json"))
        #expect(error.description.contains("access_token"))
        #expect(throws: ScenarioFileError.self) {
            try ScenarioBook(contentsOfFile: directory.appendingPathComponent("missing.json").path)
        }
    }
}

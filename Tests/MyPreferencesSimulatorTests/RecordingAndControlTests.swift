import Foundation
import Testing

@testable import MyPreferencesSimulator
import NIOHTTP1

@Suite("Request records and /_sim control endpoints")
struct RecordingAndControlTests {
    @Test("Records carry route data, the scheme name and the answer, never a credential")
    func recordsWithoutCredentials() async throws {
        let clock = TestClock()
        let users = ["etl.user": "s3cr3t-Key"]
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sim-log-\(UUID().uuidString).jsonl"
        ).path
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        let configuration = SimulatorConfiguration(
            auth: .pnauthinfo3(users: users), requestLogPath: logPath, now: clock.reader)
        try await withSimulator(configuration) { sim async throws in
            await sim.setScenario(
                Scenario([.unavailable(retryAfter: RetryAfter(seconds: 4)), .status("Complete")]), accessToken: 77)
            let header = AuthTests.header(clock: clock, age: 0)
            let signature = try #require(header.split(separator: "Signature=").last.map(String.init))
            _ = try await sim.pollStatus(accessToken: "77", headers: [("Authorization", header)])
            _ = try await sim.pollStatus(accessToken: "77", headers: [("Authorization", header)])
            _ = try await sim.pollStatus(accessToken: "77", headers: [("Authorization", "Bearer sekrit-bearer-token")])
            _ = try await sim.pollStatus(accessToken: "77", headers: [("Authorization", "sekrit-bare-credential")])

            let records = await sim.requests()
            #expect(records.count == 4)
            #expect(
                records[0]
                    == RecordedRequest(
                        time: clock.now, method: "GET", path: "/Profiles/Async/ACME_Co/Export/77/Status",
                        clientID: "ACME_Co",
                        accessToken: 77, authScheme: "PNAUTHINFO3-HMAC-SHA256", status: 503, retryAfter: "4"))
            #expect(records[1].status == 200)
            #expect(records[1].retryAfter == nil)
            #expect(records[2].authScheme == "Bearer")
            #expect(records[2].status == 401)
            #expect(records[3].authScheme == "other")

            let served = try await sim.control("/_sim/requests")
            #expect(served.status == 200)
            let decoded = try JSONDecoder().decode([RecordedRequest].self, from: Data(served.body.utf8))
            #expect(decoded == records)
            #expect(served.body.contains("\"time\":\"2024-03-05T07:08:09.000Z\""))

            let logText = try String(contentsOfFile: logPath, encoding: .utf8)
            let lines = logText.split(separator: "\n")
            #expect(lines.count == 4)
            #expect(try lines.map { try JSONDecoder().decode(RecordedRequest.self, from: Data($0.utf8)) } == records)

            for text in [served.body, logText] {
                for secret in ["s3cr3t-Key", signature, "sekrit"] {
                    #expect(!text.contains(secret), "a credential leaked into the request log")
                }
            }
        }
    }

    @Test("Recording can be switched off and is bounded")
    func recordingLimits() async throws {
        try await withSimulator(SimulatorConfiguration(recordsRequests: false)) { sim async throws in
            _ = try await sim.pollStatus(accessToken: "1")
            #expect(await sim.requests().isEmpty)
        }
        try await withSimulator(SimulatorConfiguration(requestRecordLimit: 3)) { sim async throws in
            for token in 1...5 { _ = try await sim.pollStatus(accessToken: String(token)) }
            #expect(await sim.requests().map(\.accessToken) == [3, 4, 5])
        }
    }

    @Test("GET /_sim/health reports the port and counters")
    func health() async throws {
        try await withSimulator { sim async throws in
            _ = try await sim.pollStatus(accessToken: "1")
            let response = try await sim.control("/_sim/health")
            #expect(response.status == 200)
            let body = try jsonObject(response.body)
            #expect(body["status"] as? String == "ok")
            #expect(body["port"] as? Int == sim.port)
            #expect(body["base_url"] as? String == sim.baseURL)
            #expect(body["recorded_requests"] as? Int == 1)
            #expect(await sim.requests().count == 1, "control requests are not recorded")
        }
    }

    @Test("POST /_sim/scenarios merges scenarios at runtime; invalid bodies get 400 naming the key")
    func postScenarios() async throws {
        try await withSimulator { sim async throws in
            _ = try await sim.pollStatus(accessToken: "8")  // progress that the new scenario must restart
            let book =
                #"{"scenarios": [{"access_token": 8, "steps": [{"http": 404}, {"status": "Failed"}]}], "default": [{"status": "Expired"}]}"#
            let applied = try await sim.control("/_sim/scenarios", method: .POST, body: book)
            #expect(applied.status == 200)
            #expect(try await sim.pollStatus(accessToken: "8").status == 404)
            #expect(try jsonObject(try await sim.pollStatus(accessToken: "8").body)["Status"] as? String == "Failed")
            #expect(try jsonObject(try await sim.pollStatus(accessToken: "99").body)["Status"] as? String == "Expired")

            let invalid = try await sim.control(
                "/_sim/scenarios", method: .POST,
                body: #"{"scenarios": [{"access_token": 8, "steps": [{"stauts": "x"}]}]}"#)
            #expect(invalid.status == 400)
            #expect((try jsonObject(invalid.body)["error"] as? String)?.contains("stauts") == true)

            let window = try await sim.control(
                "/_sim/scenarios", method: .POST,
                body: #"{"host_unavailable": [{"from_s": 0, "to_s": 3600, "retry_after_s": 7}]}"#)
            #expect(window.status == 200)
            let down = try await sim.pollStatus(accessToken: "8")
            #expect(down.status == 503)
            #expect(down.header("Retry-After") == "7")
        }
    }

    @Test("POST /_sim/reset restores the configured scenarios and clears records, progress and counts")
    func reset() async throws {
        let configured = ScenarioBook(scenarios: [
            TokenScenario(accessToken: 1, scenario: Scenario([.status("Processing"), .status("Complete")]))
        ])
        try await withSimulator(SimulatorConfiguration(scenarios: configured)) { sim async throws in
            _ = try await sim.pollStatus(accessToken: "1")
            await sim.setScenario(Scenario([.http(500)]), accessToken: 2)
            _ = try await TestHTTP.send(
                "\(sim.baseURL)/oauth/token", method: .POST, body: "grant_type=client_credentials&scope=A/b")
            #expect(await sim.oauthTokenRequestCount() == 1)

            let response = try await sim.control("/_sim/reset", method: .POST)
            #expect(response.status == 200)
            #expect(await sim.requests().isEmpty)
            #expect(await sim.oauthTokenRequestCount() == 0)
            #expect(
                try jsonObject(try await sim.pollStatus(accessToken: "1").body)["Status"] as? String == "Processing")
            #expect(try await sim.pollStatus(accessToken: "2").status == 200)
        }
    }

    @Test("Unknown control endpoints and wrong methods")
    func controlErrors() async throws {
        try await withSimulator { sim async throws in
            #expect(try await sim.control("/_sim/nothing").status == 404)
            #expect(try await sim.control("/_sim/reset").status == 405)
        }
    }
}

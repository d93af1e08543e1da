import Foundation
import MprefCore
import MprefTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@testable import MyPreferencesSimulator
import NIOHTTP1

/// The initiate endpoint's answers: refusals, faults, authentication, runtime books and the initiation record.
@Suite("Initiate")
struct InitiateTests {
    static let segments = [
        SegmentScenario(name: "Newsletter", clientID: "ACME_Co", records: 10),
        SegmentScenario(name: "Daily", clientID: "Northwind", records: 5),
    ]

    @Test("Unknown segment 400, unknown client ID 404, bad bodies 400 — and none of them creates an export")
    func refusals() async throws {
        let clock = TestClock()
        try await withSimulator(
            SimulatorConfiguration(scenarios: ScenarioBook(segments: Self.segments), now: clock.reader)
        ) { sim async throws in
            clock.advance(by: 1)  // base records changed up to the start itself
            let unknown = try await sim.initiate(segment: "Nope")
            #expect(unknown.status == 400)
            #expect(unknown.body == #"{"Message":"Segment 'Nope' was not found"}"#)
            #expect(try await sim.initiate(segment: "newsletter").status == 400)  // names match exactly
            #expect(try await sim.initiate(segment: "Daily").status == 400)  // Northwind's segment
            let client = try await sim.initiate(clientID: "Contoso", segment: "Newsletter")
            #expect(client.status == 404)
            #expect(client.body == #"{"Message":"Client ID 'Contoso' was not found"}"#)
            for (body, expected) in [
                ("{", "not valid JSON"), ("[1]", "JSON object"),
                (#"{"LastDateTime": "2024-03-05 07:08:09"}"#, "LastDateTime"),
                (#"{"MatchCriteria": "Nope", "Values": ["1"]}"#, "MatchCriteria"),
                (#"{"CallbackURL": 3}"#, "CallbackURL"),
            ] {
                let response = try await sim.initiate(segment: "Newsletter", body: body)
                #expect(response.status == 400, "\(body)")
                #expect(
                    (try jsonObject(response.body)["Message"] as? String)?.contains(expected) == true,
                    "\(body): \(response.body)")
            }
            // The body is checked before the client ID and the segment.
            #expect(try await sim.initiate(clientID: "Contoso", segment: "Nope", body: "{").status == 400)
            #expect(await sim.initiations().isEmpty)
            #expect(try await sim.initiatedToken(segment: "Newsletter") == 1)
            #expect(try await sim.initiatedToken(clientID: "Northwind", segment: "Daily") == 2)

            // An entry without client_id makes every client ID known; its own entries still win.
            await sim.apply(ScenarioBook(segments: [SegmentScenario(name: "Newsletter", records: 3)]))
            clock.advance(by: 1)
            #expect(try await sim.initiatedToken(clientID: "Contoso", segment: "Newsletter") == 3)
            #expect(try await sim.initiate(clientID: "Contoso", segment: "Daily").status == 400)
            let records = (await sim.initiations()).map { ($0.clientID, $0.records) }
            #expect(records.map(\.0) == ["ACME_Co", "Northwind", "Contoso"])
            #expect(records.map(\.1) == [10, 5, 3])
            let requests = await sim.requests()
            #expect(requests.filter { $0.status == 404 }.count == 1)
            #expect(requests.compactMap(\.accessToken) == [1, 2, 3])
        }
    }

    @Test(
        "Initiate faults in order: drop, delay, 503 with Retry-After, 500 that creates, 502 that does not; then normal")
    func faults() async throws {
        let clock = TestClock()
        let segment = SegmentScenario(
            name: "Newsletter", records: 4,
            initiateFaults: [
                .drop, .delay(.milliseconds(4000)), .unavailable(retryAfter: RetryAfter(seconds: 2)),
                .http(code: 500, creates: true), .http(code: 502, creates: false),
            ])
        try await withSimulator(SimulatorConfiguration(scenarios: ScenarioBook(segments: [segment]), now: clock.reader))
        { sim async throws in
            // A host-wide 503 window answers first and uses no fault.
            await sim.setHostUnavailable([
                HostUnavailableWindow(from: .zero, to: .seconds(5), retryAfter: RetryAfter(seconds: 5))
            ])
            let down = try await sim.initiate(segment: "Newsletter")
            #expect(down.status == 503)
            #expect(down.header("Retry-After") == "5")
            await sim.setHostUnavailable([])

            // drop: created, no answer.
            await #expect(throws: (any Error).self) { try await sim.initiate(segment: "Newsletter") }
            #expect(await sim.initiations().map(\.accessToken) == [1])
            #expect(await sim.initiations().first?.answered == false)
            #expect(try await sim.statusCounts(accessToken: 1).status == "Complete")

            // delay: created at once, answered after 1.5 s.
            let began = ContinuousClock.now
            async let delayed = sim.initiate(segment: "Newsletter")
            var sawUnanswered = false
            while !sawUnanswered, ContinuousClock.now - began < .milliseconds(3500) {
                sawUnanswered = await sim.initiations().contains { $0.accessToken == 2 && !$0.answered }
                if !sawUnanswered { try await Task.sleep(for: .milliseconds(5)) }
            }
            #expect(sawUnanswered)
            let answer = try await delayed
            #expect(ContinuousClock.now - began >= .milliseconds(4000))
            #expect(answer.status == 200)
            #expect(answer.body == #"{"AccessToken":2}"#)
            #expect(await sim.initiations().last?.answered == true)

            // unavailable: 503 with Retry-After, nothing created.
            let unavailable = try await sim.initiate(segment: "Newsletter")
            #expect(unavailable.status == 503)
            #expect(unavailable.header("Retry-After") == "2")
            #expect(await sim.initiations().count == 2)

            // http 500 that creates: the export exists, the client never learned its token.
            let failed = try await sim.initiate(segment: "Newsletter")
            #expect(failed.status == 500)
            #expect(try jsonObject(failed.body)["Message"] is String)
            #expect(try await sim.statusCounts(accessToken: 3).status == "Complete")

            // http 502 that does not create.
            #expect(try await sim.initiate(segment: "Newsletter").status == 502)

            // Faults used up: normal answers.
            #expect(try await sim.initiatedToken(segment: "Newsletter") == 4)
            #expect(try await sim.initiatedToken(segment: "Newsletter") == 5)
            let initiations = await sim.initiations()
            #expect(initiations.map(\.accessToken) == [1, 2, 3, 4, 5])
            #expect(initiations.map(\.answered) == [false, true, false, true, true])

            // reset: the faults start over and the initiations are forgotten.
            #expect(try await sim.control("/_sim/reset", method: .POST).status == 200)
            #expect(await sim.initiations().isEmpty)
            await #expect(throws: (any Error).self) { try await sim.initiate(segment: "Newsletter") }
            #expect(await sim.initiations().map(\.accessToken) == [6])
        }
    }

    @Test("PNAUTHINFO3 and OAuth both accept initiate; refusals come before the segment checks")
    func authentication() async throws {
        let clock = TestClock()
        let book = ScenarioBook(segments: Self.segments)
        try await withSimulator(
            SimulatorConfiguration(auth: .pnauthinfo3(users: AuthTests.users), scenarios: book, now: clock.reader)
        ) { sim async throws in
            #expect(try await sim.initiate(segment: "Newsletter").status == 401)
            #expect(try await sim.initiate(clientID: "Contoso", segment: "Nope").status == 401)
            let signed = [("Authorization", AuthTests.header(clock: clock, age: 1))]
            let response = try await sim.initiate(segment: "Newsletter", body: "{}", headers: signed)
            #expect(response.status == 200)
            #expect(response.body == #"{"AccessToken":1}"#)
            let contoso = [("Authorization", AuthTests.header(clock: clock, age: 1, clientID: "Contoso"))]
            #expect(try await sim.initiate(clientID: "Contoso", segment: "Newsletter", headers: contoso).status == 404)
            #expect(await sim.requests().first?.authScheme == nil)
            #expect(await sim.requests().dropFirst(2).first?.authScheme == "PNAUTHINFO3-HMAC-SHA256")
        }
        let oauth = SimulatorAuth.oauth(clients: AuthTests.oauthClients, tokenLifetime: .seconds(300))
        try await withSimulator(SimulatorConfiguration(auth: oauth, scenarios: book, now: clock.reader)) {
            sim async throws in
            let issued = try await AuthTests.fetchToken(
                sim, headers: [("Authorization", AuthTests.basic(AuthTests.oauthClientID, "client-secret-1"))],
                form: "grant_type=client_credentials&scope=ACME_Co/etl.user")
            let token = try #require(try jsonObject(issued.body)["access_token"] as? String)
            #expect(try await sim.initiate(segment: "Newsletter").status == 401)
            let response = try await sim.initiate(
                segment: "Newsletter", api3: true, headers: [("Authorization", "Bearer \(token)")])
            #expect(response.status == 200)
            #expect(response.body == #"{"AccessToken":1}"#)
        }
    }

    @Test(
        "POST /_sim/scenarios sets segments whose datasets start then; GET /_sim/initiations shows each export with nulls written out"
    )
    func runtimeBookAndControlEndpoint() async throws {
        let clock = TestClock()
        let start = clock.now
        try await withSimulator(SimulatorConfiguration(now: clock.reader)) { sim async throws in
            clock.advance(by: 100)
            let book =
                #"{"segments": [{"name": "Live", "client_id": "ACME_Co", "records": 10, "history_s": 10, "changes_per_s": 1}]}"#
            let posted = try await sim.control("/_sim/scenarios", method: .POST, body: book)
            #expect(posted.body == #"{"status":"ok","scenarios":0,"segments":1}"#)
            // Loaded at start + 100 s: base record 10 changed at that very instant, so it is not yet in.
            let first = try await sim.initiatedToken(segment: "Live")
            #expect(try await sim.statusCounts(accessToken: first).rows == 9)
            clock.advance(by: 2.5)
            let second = try await sim.initiatedToken(
                segment: "Live",
                body: #"{"CallbackURL": "https://etl.example/cb?x=1", "lastdatetime": "2024-03-05T07:09:48Z"}"#)
            #expect(try await sim.statusCounts(accessToken: second).rows == 3)  // base 10, changes 1 and 2

            let listed = try await sim.control("/_sim/initiations")
            #expect(listed.status == 200)
            let array = try #require(try JSONSerialization.jsonObject(with: Data(listed.body.utf8)) as? [[String: Any]])
            #expect(array.count == 2)
            let keys: Set<String> = [
                "client_id", "segment", "access_token", "last_date_time", "callback_url", "match_criteria",
                "received_at", "ready_at", "answered", "records",
            ]
            #expect(array.allSatisfy { Set($0.keys) == keys })
            #expect(array[0]["last_date_time"] is NSNull)
            #expect(array[0]["callback_url"] is NSNull)
            #expect(array[0]["received_at"] as? String == Timestamp.format(start.addingTimeInterval(100)))
            #expect(array[0]["records"] as? Int == 9)
            // processing_s 0: Complete at the initiate.
            #expect(array[0]["ready_at"] as? String == Timestamp.format(start.addingTimeInterval(100)))
            #expect(array[1]["callback_url"] as? String == "https://etl.example/cb?x=1")
            #expect(array[1]["last_date_time"] as? String == "2024-03-05T07:09:48Z")
            #expect(array[1]["answered"] as? Bool == true)
            let decoded = try JSONDecoder().decode([Initiation].self, from: Data(listed.body.utf8))
            #expect(decoded == (await sim.initiations()))
            #expect(try await sim.control("/_sim/initiations", method: .POST).status == 405)

            // The same name and client ID replace the entry: its dataset starts again now.
            _ = try await sim.control("/_sim/scenarios", method: .POST, body: book)
            let third = try await sim.initiatedToken(segment: "Live")
            #expect(try await sim.statusCounts(accessToken: third).rows == 9)
        }
    }

    @Test("Without any segment, initiate keeps handing out tokens for any name (body still checked) and records them")
    func withoutSegments() async throws {
        let clock = TestClock()
        try await withSimulator(SimulatorConfiguration(now: clock.reader)) { sim async throws in
            #expect(
                try await sim.initiatedToken(
                    clientID: "Anyone", segment: "Whatever", body: #"{"CallbackURL": "https://cb"}"#) == 1)
            #expect(try await sim.initiate(segment: "Whatever", body: "{").status == 400)
            let expected = Initiation(
                clientID: "Anyone", segment: "Whatever", accessToken: 1, callbackURL: "https://cb",
                receivedAt: clock.now, answered: true, records: nil)
            #expect(await sim.initiations() == [expected])
            #expect(try await sim.statusCounts(clientID: "Anyone", accessToken: 1).status == "Processing")
        }
    }

    @Test("mpref-sim --scenarios accepts segments")
    func executableWithSegments() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mpref-sim-segments-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let portFile = directory.appendingPathComponent("port")
        let scenarios = directory.appendingPathComponent("scenarios.json")
        try Data(
            #"{"segments": [{"name": "Newsletter", "client_id": "ACME_Co", "records": 12, "processing_s": 0}]}"#.utf8
        ).write(to: scenarios)
        let child = try ExecutableTests.start([
            "--port", "0", "--port-file", portFile.path, "--scenarios", scenarios.path,
        ])
        defer { child.signal(SIGKILL) }
        _ = await child.readLine()
        let port = try #require(
            Int(try String(contentsOf: portFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        let base = "http://127.0.0.1:\(port)"
        let created = try await TestHTTP.send(
            "\(base)/Profiles/Async/ACME_Co/Export/Segment/Newsletter", method: .POST, body: "{}")
        #expect(created.body == #"{"AccessToken":1}"#)
        #expect(
            try await TestHTTP.send("\(base)/Profiles/Async/ACME_Co/Export/Segment/Other", method: .POST).status == 400)
        #expect(
            try await TestHTTP.send("\(base)/Profiles/Async/Contoso/Export/Segment/Newsletter", method: .POST).status
                == 404)
        let status = try await TestHTTP.send("\(base)/Profiles/Async/ACME_Co/Export/1/Status")
        #expect(try jsonObject(status.body)["RowCount"] as? Int == 12)
        let initiations = try await TestHTTP.send("\(base)/_sim/initiations")
        #expect(try JSONDecoder().decode([Initiation].self, from: Data(initiations.body.utf8)).map(\.records) == [12])
        child.signal(SIGTERM)
        #expect(await child.waitForExit() == 0)
    }
}

import Foundation
import Testing

@testable import MyPreferencesSimulator
import NIOHTTP1

@Suite("Status and initiate endpoints")
struct StatusEndpointTests {
    @Test("Async path form answers the vendor's JSON document")
    func asyncPathJSON() async throws {
        try await withSimulator { sim async throws in
            #expect(sim.baseURL == "http://127.0.0.1:\(sim.port)/Profiles")
            #expect(sim.port > 0)
            let response = try await sim.pollStatus(accessToken: "1")
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "application/json; charset=utf-8")
            #expect(response.body == #"{"AccessToken":1,"Status":"Processing","RowCount":0,"ByteCount":0}"#)
        }
    }

    @Test("API/3 path form adds Expires and shares the token's progress")
    func api3PathJSON() async throws {
        let clock = TestClock()
        try await withSimulator(SimulatorConfiguration(now: clock.reader)) { sim async throws in
            await sim.setScenario(
                Scenario([
                    .status("Processing"), .status("Complete", rowCount: 5_000_000_000, byteCount: 3_000_000_000),
                ]), accessToken: 7)
            let first = try await TestHTTP.send("\(sim.baseURL)/ACME_Co/status/Token/7")
            #expect(first.status == 200)
            let object = try jsonObject(first.body)
            #expect(object["Status"] as? String == "Processing")
            #expect(object["Expires"] as? String == "2024-03-06T07:08:09.000Z")
            // Next poll of the same token through the other path form continues the scenario.
            let second = try await sim.pollStatus(accessToken: "7")
            #expect(
                second.body == #"{"AccessToken":7,"Status":"Complete","RowCount":5000000000,"ByteCount":3000000000}"#)
            #expect(!second.body.contains("Expires"))
        }
    }

    @Test(
        "XML by Accept: data-contract namespace, alphabetical elements",
        arguments: ["application/xml", "text/xml", "text/xml;q=0.9, application/json;q=0.5"])
    func xmlByAccept(accept: String) async throws {
        try await withSimulator { sim async throws in
            let response = try await sim.pollStatus(accessToken: "12", headers: [("Accept", accept)])
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "application/xml; charset=utf-8")
            #expect(
                response.body == """
                    <AsyncApiDataExportStatusResult xmlns:i="http://www.w3.org/2001/XMLSchema-instance" \
                    xmlns="http://schemas.datacontract.org/2004/07/PossibleNow.Profiles.DataExportCore.Classes">\
                    <AccessToken>12</AccessToken><ByteCount>0</ByteCount><RowCount>0</RowCount><Status>Processing</Status>\
                    </AsyncApiDataExportStatusResult>
                    """)
        }
    }

    @Test(
        "JSON when Accept prefers it or is absent",
        arguments: ["application/json", "text/json", "*/*", "application/json, application/xml;q=0.5"])
    func jsonByAccept(accept: String) async throws {
        try await withSimulator { sim async throws in
            let response = try await sim.pollStatus(accessToken: "3", headers: [("Accept", accept)])
            #expect(response.header("Content-Type") == "application/json; charset=utf-8")
            #expect(response.body.hasPrefix(#"{"AccessToken":3,"#))
        }
    }

    @Test("XML answer of the API/3 form carries Expires in alphabetical place")
    func api3XML() async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(
                Scenario([.status("Complete", rowCount: 1, byteCount: 2, expires: "2030-01-01T00:00:00")]),
                accessToken: 9)
            let response = try await TestHTTP.send(
                "\(sim.baseURL)/ACME_Co/status/Token/9", headers: [("Accept", "text/xml")])
            #expect(
                response.body.contains(
                    "<ByteCount>2</ByteCount><Expires>2030-01-01T00:00:00</Expires><RowCount>1</RowCount>"))
        }
    }

    @Test("Non-numeric access token gets 400", arguments: ["abc", "12x", "9223372036854775808"])
    func nonNumericToken(token: String) async throws {
        try await withSimulator { sim async throws in
            let response = try await sim.pollStatus(accessToken: token)
            #expect(response.status == 400)
            #expect(try jsonObject(response.body)["Message"] is String)
        }
    }

    @Test("Unknown paths get 404, wrong methods 405")
    func unknownPaths() async throws {
        try await withSimulator { sim async throws in
            let unknownRoute = try await TestHTTP.send("\(sim.baseURL)/Async/ACME_Co/Export/1/Nope")
            let outsidePrefix = try await TestHTTP.send(
                "http://127.0.0.1:\(sim.port)/Other/Async/ACME_Co/Export/1/Status")
            let wrongMethod = try await TestHTTP.send("\(sim.baseURL)/Async/ACME_Co/Export/1/Status", method: .POST)
            #expect(unknownRoute.status == 404)
            #expect(outsidePrefix.status == 404)
            #expect(wrongMethod.status == 405)
        }
    }

    @Test("Initiate hands out increasing access tokens that then follow the default scenario")
    func initiate() async throws {
        try await withSimulator(SimulatorConfiguration(firstAccessToken: 500)) { sim async throws in
            let first = try await TestHTTP.send(
                "\(sim.baseURL)/Async/ACME_Co/Export/Segment/Opt%20Outs", method: .POST, body: "{}")
            #expect(first.status == 200)
            #expect(first.body == #"{"AccessToken":500}"#)
            let second = try await TestHTTP.send("\(sim.baseURL)/ACME_Co/export/Segment/All", method: .POST)
            #expect(second.body == #"{"AccessToken":501}"#)
            var statuses: [String] = []
            for _ in 0..<5 {
                let object = try jsonObject(try await sim.pollStatus(accessToken: "500").body)
                statuses.append(try #require(object["Status"] as? String))
            }
            #expect(statuses == ["Processing", "Processing", "Processing", "Complete", "Complete"])
            let records = await sim.requests()
            #expect(records.first?.accessToken == 500)
            #expect(records.first?.method == "POST")
        }
    }

    @Test("Custom path prefix")
    func customPrefix() async throws {
        try await withSimulator(SimulatorConfiguration(pathPrefix: "/api/v2/")) { sim async throws in
            let response = try await sim.pollStatus(accessToken: "1")
            #expect(sim.baseURL.hasSuffix("/api/v2"))
            #expect(response.status == 200)
        }
    }
}

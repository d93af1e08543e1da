import Foundation
import NIOHTTP1
import Testing

@testable import MyPreferencesSimulator

/// The routing corners: literal segments in any case, empty segments, percent-encoding, the prefix and the
/// OAuth path as whole strings, 404 against 405 per route, the `/_sim` namespace as sent, and which requests
/// are recorded (with the client ID and access token the route saw).
@Suite("Routing corners")
struct RoutingTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var method: HTTPMethod = .GET
        var path: String
        var status: Int
        /// The whole body, when it is fixed.
        var body: String? = nil
        /// Nil: not recorded (a control request). Else the client ID recorded (nil inside).
        var recorded: Recorded? = .init()

        struct Recorded: Sendable, Equatable {
            var clientID: String? = nil
            var accessToken: Int64? = nil
        }

        var testDescription: String { "\(method.rawValue) \(path) → \(status)" }
    }

    static func notFound(_ path: String) -> String {
        #"{"Message":"No HTTP resource was found that matches the request URI '\#(path)'."}"#
    }

    static func wrongMethod(_ method: String) -> String {
        #"{"Message":"The requested resource does not support http method '\#(method)'."}"#
    }

    static let acme = Case.Recorded(clientID: "ACME_Co")

    static let apiCases: [Case] = [
        Case(
            path: "/profiles/ASYNC/ACME_Co/export/1/STATUS", status: 200,
            recorded: .init(clientID: "ACME_Co", accessToken: 1)),
        Case(
            path: "/Profiles/Async/ACME_Co/Export/1/Status/", status: 200,
            recorded: .init(clientID: "ACME_Co", accessToken: 1)),
        Case(
            path: "/Profiles//Async/ACME_Co//Export/1/Status", status: 200,
            recorded: .init(clientID: "ACME_Co", accessToken: 1)),
        Case(
            path: "/Profiles/%41sync/ACME%20Co/Export/%31/Status", status: 200,
            recorded: .init(clientID: "ACME Co", accessToken: 1)),
        Case(
            path: "/Profiles/Async/AC%2FME/Export/1/Status", status: 200,
            recorded: .init(clientID: "AC/ME", accessToken: 1)),
        Case(path: "/Profiles/Async/status/Token/1", status: 200, recorded: .init(clientID: "Async", accessToken: 1)),
        Case(
            path: "//Profiles/Async/ACME_Co/Export/1/Status", status: 404,
            body: notFound("//Profiles/Async/ACME_Co/Export/1/Status")),
        Case(
            path: "/ProfilesX/Async/ACME_Co/Export/1/Status", status: 404,
            body: notFound("/ProfilesX/Async/ACME_Co/Export/1/Status")),
        Case(path: "/Profiles", status: 404, body: notFound("/Profiles")),
        Case(path: "/Profiles/", status: 404, body: notFound("/Profiles/")),
        Case(path: "/favicon.ico", status: 404, body: notFound("/favicon.ico")),
        Case(
            path: "/Profiles/Async/ACME_Co/Export/1/Nope", status: 404,
            body: notFound("/Profiles/Async/ACME_Co/Export/1/Nope")),
        Case(path: "/_SIM/health", status: 404, body: notFound("/_SIM/health")),
        // A wrong method: 405 on every route but the API/3 initiate/page path.
        Case(
            method: .PUT, path: "/Profiles/Async/ACME_Co/Export/1/Status", status: 405, body: wrongMethod("PUT"),
            recorded: acme),
        Case(method: .HEAD, path: "/Profiles/Async/ACME_Co/Export/1/Status", status: 405, recorded: acme),
        Case(
            method: .PROPFIND, path: "/Profiles/Async/ACME_Co/Export/1/Status", status: 405,
            body: wrongMethod("PROPFIND"), recorded: acme),
        Case(
            method: .DELETE, path: "/Profiles/ACME_Co/status/Token/1", status: 405, body: wrongMethod("DELETE"),
            recorded: acme),
        Case(
            method: .PATCH, path: "/Profiles/Async/ACME_Co/Export/Segment/1", status: 405, body: wrongMethod("PATCH"),
            recorded: acme),
        Case(
            method: .GET, path: "/Profiles/Async/ACME_Co/Export/Segment/Commit/1", status: 405,
            body: wrongMethod("GET"), recorded: acme),
        Case(
            method: .GET, path: "/Profiles/ACME_Co/export/Segment/Commit/1", status: 405, body: wrongMethod("GET"),
            recorded: acme),
        Case(
            method: .PUT, path: "/Profiles/ACME_Co/export/Segment/1", status: 404,
            body: notFound("/Profiles/ACME_Co/export/Segment/1")),
        Case(method: .GET, path: "/Profiles/oauth/token", status: 405, body: wrongMethod("GET")),
        // A segment or token named `Commit` (the commit routes' literal).
        Case(
            method: .POST, path: "/Profiles/Async/ACME_Co/Export/Segment/Commit", status: 200,
            recorded: .init(clientID: "ACME_Co", accessToken: 1)),
        Case(
            method: .POST, path: "/Profiles/ACME_Co/export/Segment/commit", status: 200,
            recorded: .init(clientID: "ACME_Co", accessToken: 1)),
        Case(
            method: .GET, path: "/Profiles/Async/ACME_Co/Export/Segment/Commit", status: 400,
            body: #"{"Message":"The request is invalid: access token 'Commit' is not an integer."}"#, recorded: acme),
        Case(
            method: .PUT, path: "/Profiles/Async/ACME_Co/Export/Segment/Commit", status: 405, body: wrongMethod("PUT"),
            recorded: acme),
        Case(
            method: .PUT, path: "/Profiles/ACME_Co/export/Segment/Commit", status: 404,
            body: notFound("/Profiles/ACME_Co/export/Segment/Commit")),
        // The Segment route before the status route; a client ID named `Async` on the API/3 routes.
        Case(
            method: .GET, path: "/Profiles/Async/ACME_Co/Export/Segment/Status", status: 400,
            body: #"{"Message":"The request is invalid: access token 'Status' is not an integer."}"#, recorded: acme),
        Case(
            method: .POST, path: "/Profiles/Async/export/Segment/Commit/5", status: 404,
            body: #"{"Message":"No export was found for access token 5."}"#,
            recorded: .init(clientID: "Async", accessToken: 5)),
        // The OAuth path: whole, any case.
        Case(method: .POST, path: "/PROFILES/OAUTH/TOKEN", status: 400, body: #"{"error":"invalid_request"}"#),
        Case(method: .POST, path: "/Profiles/oauth/token/", status: 404, body: notFound("/Profiles/oauth/token/")),
        Case(method: .POST, path: "/Profiles//oauth/token", status: 404, body: notFound("/Profiles//oauth/token")),
    ]

    static func unknownControl(_ path: String, method: HTTPMethod = .GET) -> Case {
        Case(method: method, path: path, status: 404, body: #"{"error":"unknown control endpoint"}"#, recorded: nil)
    }

    static let shape = #"{"error":"expected /_sim/exports/{clientId}/{accessToken}"}"#
    static let notInteger = #"{"error":"the access token is not an integer"}"#

    static let controlCases: [Case] = [
        unknownControl("/_sim"),
        unknownControl("/_sim/"),
        unknownControl("/_sim/nope"),
        unknownControl("/_sim/health/"),
        unknownControl("/_sim//health"),
        unknownControl("/_sim/Health"),
        unknownControl("/_sim/callbacks", method: .PUT),
        unknownControl("/_sim/health/", method: .PUT),
        unknownControl("/_sim/exports", method: .GET),
        unknownControl("/_sim/exports/ACME_Co/1", method: .POST),
        Case(method: .PUT, path: "/_sim/health", status: 405, body: #"{"error":"method not allowed"}"#, recorded: nil),
        Case(method: .GET, path: "/_sim/reset", status: 405, body: #"{"error":"method not allowed"}"#, recorded: nil),
        Case(path: "/_sim/exports/", status: 404, body: shape, recorded: nil),
        Case(path: "/_sim/exports/ACME_Co", status: 404, body: shape, recorded: nil),
        Case(path: "/_sim/exports//1", status: 404, body: shape, recorded: nil),
        Case(path: "/_sim/exports/ACME_Co/1/", status: 404, body: shape, recorded: nil),
        Case(path: "/_sim/exports/ACME_Co/1/2", status: 404, body: shape, recorded: nil),
        Case(path: "/_sim/exports/ACME_Co/", status: 400, body: notInteger, recorded: nil),
        Case(path: "/_sim/exports/ACME_Co/abc", status: 400, body: notInteger, recorded: nil),
        Case(path: "/_sim/exports/ACME_Co/%31", status: 200, recorded: nil),
    ]

    @Test("API paths", arguments: apiCases)
    func api(_ routingCase: Case) async throws {
        try await check(routingCase)
    }

    @Test("Control paths", arguments: controlCases)
    func control(_ routingCase: Case) async throws {
        try await check(routingCase)
    }

    func check(_ routingCase: Case) async throws {
        try await withSimulator { sim async throws in
            let response = try await TestHTTP.send(
                "http://127.0.0.1:\(sim.port)\(routingCase.path)", method: routingCase.method)
            #expect(response.status == routingCase.status)
            if let body = routingCase.body { #expect(response.body == body) }
            let records = await sim.requests()
            if let expected = routingCase.recorded {
                #expect(records.count == 1)
                let record = try #require(records.first)
                #expect(record.path == routingCase.path)
                #expect(record.method == routingCase.method.rawValue)
                #expect(record.status == routingCase.status)
                #expect(Case.Recorded(clientID: record.clientID, accessToken: record.accessToken) == expected)
            } else {
                #expect(records.isEmpty)
            }
        }
    }

    @Test("An empty prefix: the first segment may be a client ID named like a literal")
    func emptyPrefix() async throws {
        try await withSimulator(SimulatorConfiguration(pathPrefix: "", oauthTokenPath: "/oauth/token")) {
            sim async throws in
            let base = "http://127.0.0.1:\(sim.port)"
            #expect(try await TestHTTP.send("\(base)/Async/ACME_Co/Export/1/Status").status == 200)
            #expect(try await TestHTTP.send("\(base)/oauth/status/Token/1").status == 200)
            #expect(try await TestHTTP.send("\(base)/Async/export/Segment/Commit/5", method: .POST).status == 404)
            #expect(try await TestHTTP.send("\(base)/oauth/token", method: .PUT).status == 405)
            #expect(await sim.requests().map(\.clientID) == ["ACME_Co", "oauth", "Async", nil])
        }
    }

    @Test("A host-wide 503 window answers before authentication, on every route but 404/405")
    func hostWindowFirst() async throws {
        let configuration = SimulatorConfiguration(
            auth: .pnauthinfo3(users: ["u": "k"]),
            scenarios: ScenarioBook(hostUnavailable: [HostUnavailableWindow(from: .zero, to: .seconds(3600))]))
        try await withSimulator(configuration) { sim async throws in
            let base = sim.baseURL
            #expect(try await TestHTTP.send("\(base)/ACME_Co/status/Token/7").status == 503)
            #expect(try await TestHTTP.send("\(base)/Async/ACME_Co/Export/Segment/42", method: .POST).status == 503)
            #expect(try await TestHTTP.send("\(base)/oauth/token", method: .POST).status == 503)
            #expect(try await TestHTTP.send("\(base)/Async/ACME_Co/Export/7/Status", method: .PUT).status == 405)
            let records = await sim.requests()
            #expect(records.map(\.accessToken) == [7, nil, nil, nil])
            #expect(records.map(\.clientID) == ["ACME_Co", "ACME_Co", nil, "ACME_Co"])
        }
    }
}

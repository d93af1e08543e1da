import Foundation
import Hummingbird

extension SimulatorRouting {
    /// The API routes, on the paths ``routerPath(_:prefix:oauthTokenPath:)`` gives (`/api` stands for the
    /// prefix, `/oauth` for the OAuth token path), literal segments in any case; parameters are percent-decoded.
    /// A wrong method gets 405 on every route but the API/3 initiate and page paths, where the vendor answers 404.
    static func apiRouter(_ simulator: SimulatorResponder) -> Router<Context> {
        let router = Router(context: Context.self, options: .caseInsensitive)
        router.add(middleware: RouterEscapeMiddleware())
        router.post("/oauth") { request, context in
            try await recorded(context) { record in
                if let early = simulator.admit(request, clientID: nil, tokenText: nil, record: &record) {
                    return .respond(early)
                }
                return .respond(try await simulator.issueOAuthToken(request, at: record.time))
            }
        }
        let api = router.group("/api")
        for (path, api3) in [("Async/:client/Export/:token/Status", false), (":client/status/Token/:token", true)] {
            api.get(RouterPath(path)) { request, context in
                try await recorded(context) { record in
                    try await simulator.status(
                        request, clientID: parameter("client", context), tokenText: parameter("token", context),
                        api3: api3, record: &record)
                }
            }
        }
        for segment in ["Async/:client/Export/Segment", ":client/export/Segment"] {
            // `…/Segment/{segmentName}` (initiate) and `…/Segment/{accessToken}` (a page).
            api.post(RouterPath("\(segment)/:id")) { request, context in
                try await recorded(context) { record in
                    try await simulator.initiate(
                        request, clientID: parameter("client", context), segmentName: parameter("id", context),
                        record: &record)
                }
            }
            api.get(RouterPath("\(segment)/:id")) { request, context in
                try await recorded(context) { record in
                    await simulator.retrieve(
                        request, clientID: parameter("client", context), tokenText: parameter("id", context),
                        record: &record, channel: context.channel)
                }
            }
            // The same, for a segment or token named `Commit`: the router prefers the literal `Commit` of the
            // commit route to a parameter and does not come back from a path that ends there.
            api.post(RouterPath("\(segment)/Commit")) { request, context in
                try await recorded(context) { record in
                    try await simulator.initiate(
                        request, clientID: parameter("client", context), segmentName: lastSegment(request),
                        record: &record)
                }
            }
            api.get(RouterPath("\(segment)/Commit")) { request, context in
                try await recorded(context) { record in
                    await simulator.retrieve(
                        request, clientID: parameter("client", context), tokenText: lastSegment(request),
                        record: &record, channel: context.channel)
                }
            }
            api.post(RouterPath("\(segment)/Commit/:token")) { request, context in
                try await recorded(context) { record in
                    await simulator.commit(
                        request, clientID: parameter("client", context), tokenText: parameter("token", context),
                        record: &record)
                }
            }
        }
        for path in [
            "/oauth", "/api/Async/:client/Export/:token/Status", "/api/:client/status/Token/:token",
            "/api/Async/:client/Export/Segment/:id",
            "/api/Async/:client/Export/Segment/Commit", "/api/Async/:client/Export/Segment/Commit/:token",
            "/api/:client/export/Segment/Commit/:token",
        ] {
            router.on(RouterPath(path), method: wrongMethod) { request, context in
                try await recorded(context) { record in
                    record.clientID = context.parameters.get("client").map(decoded)
                    return .respond(
                        SimulatorResponder.message(
                            405, "The requested resource does not support http method '\(record.method)'."))
                }
            }
        }
        return router
    }

    /// The `/_sim/*` control endpoints for out-of-process tests (no authentication, never recorded):
    /// - `GET /_sim/health` → `{"status":"ok","base_url":…,"port":…,"recorded_requests":…,"oauth_token_requests":…}`
    /// - `GET /_sim/requests` → JSON array of ``RecordedRequest``, oldest first
    /// - `GET /_sim/initiations` → JSON array of ``Initiation`` (exports created by initiate requests, each with
    ///   `ready_at`, when it becomes `Complete`), oldest first
    /// - `GET /_sim/callbacks` → JSON array of ``SimulatedCallback`` (callbacks sent, dropped or failed), oldest first
    /// - `POST /_sim/scenarios` with a ``ScenarioBook`` body → merged at runtime,
    ///   `{"status":"ok","scenarios":N,"segments":M}`; 400 `{"error": …}` when invalid
    /// - `POST /_sim/reset` → back to the configured scenarios and segments; records, progress, exports,
    ///   initiations and the token count cleared
    /// - `GET /_sim/exports/{clientId}/{accessToken}` → the export's canonical file and download state (``SimulatedExport``):
    ///   `{"records":R,"bytes":B,"sha256":"<64 hex>","retrieved":false,"committed":false,"keep_files":null,"pages_served":0,"phase":"complete"}`;
    ///   `phase` is `pending` until the token has served `Complete` (counts then come from the scenario's first
    ///   `Complete` step; for an initiated export: its records, until it is ready and polled, retrieved or committed). 404 `{"error": …}` when the token's scenario has no `Complete` step, 400 for a
    ///   non-integer token. Hashing generates every record: about a second per few hundred thousand records.
    /// - a wrong method on health, requests, initiations, scenarios or reset → 405 `{"error":"method not allowed"}`;
    ///   any other path or method → 404 `{"error":"unknown control endpoint"}`. Paths match as sent (case, slashes).
    static func controlRouter(_ simulator: SimulatorResponder) -> Router<Context> {
        let router = Router(context: Context.self)
        router.add(middleware: RouterEscapeMiddleware())
        router.get("/_sim/health") { _, _ in simulator.health() }
        router.get("/_sim/requests") { _, _ in try simulator.listing(simulator.state.records) }
        router.get("/_sim/initiations") { _, _ in try simulator.listing(simulator.state.initiations) }
        router.get("/_sim/callbacks") { _, _ in try simulator.listing(simulator.callbacks.records) }
        router.post("/_sim/scenarios") { request, _ in try await simulator.applyScenarios(request) }
        router.post("/_sim/reset") { _, _ in simulator.resetControl() }
        router.get("/_sim/exports/:client/:token") { _, context in
            await simulator.exportControl(
                clientID: parameter("client", context), tokenText: parameter("token", context))
        }
        for path in ["/_sim/health", "/_sim/requests", "/_sim/initiations", "/_sim/scenarios", "/_sim/reset"] {
            router.on(RouterPath(path), method: wrongMethod) { _, _ in
                SimulatorResponder.response(
                    405, contentType: SimulatorResponder.controlJSON, body: "{\"error\":\"method not allowed\"}")
            }
        }
        return router
    }

    /// Runs an API route on the request's record and answers its outcome (``DroppedConnection`` for a drop).
    static func recorded(
        _ context: Context, _ route: (inout RecordedRequest) async throws -> SimulatorResponder.Outcome
    ) async throws -> Response {
        guard let box = context.record else { throw RouterEscape.noRoute }  // every API request has one
        var record = box.current
        let outcome = try await route(&record)
        box.current = record
        switch outcome {
        case .respond(let response): return response
        case .drop: throw DroppedConnection()
        }
    }

    /// The path parameter `name`, percent-decoded (as sent when it does not decode).
    static func parameter(_ name: String, _ context: Context) -> String {
        context.parameters.get(name).map(decoded) ?? ""
    }

    /// The last segment of the routed path, percent-decoded.
    static func lastSegment(_ request: Request) -> String {
        request.uri.path.split(separator: "/").last.map { decoded(String($0)) } ?? ""
    }

    static func decoded(_ segment: String) -> String {
        segment.removingPercentEncoding ?? segment
    }
}

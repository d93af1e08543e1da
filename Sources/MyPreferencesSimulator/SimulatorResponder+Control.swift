import Foundation
import Hummingbird

extension SimulatorResponder {
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
    func control(_ request: Request, path: String) async throws -> Response {
        let json = "application/json; charset=utf-8"
        if request.method == .get, path.hasPrefix("/_sim/exports/") {
            return await exportControl(path: path)
        }
        switch (request.method, path) {
        case (.get, "/_sim/health"):
            let body = "{\"status\":\"ok\",\"base_url\":\(StatusDocument.jsonString(baseURL)),\"port\":\(state.port),"
                + "\"recorded_requests\":\(state.recordCount),\"oauth_token_requests\":\(state.oauthTokenRequests)}"
            return Self.response(200, contentType: json, body: body)

        case (.get, "/_sim/requests"):
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(state.records)
            return Response(
                status: .ok, headers: [.contentType: json],
                body: .init(byteBuffer: ByteBuffer(bytes: data))
            )

        case (.get, "/_sim/initiations"):
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(state.initiations)
            return Response(
                status: .ok, headers: [.contentType: json],
                body: .init(byteBuffer: ByteBuffer(bytes: data))
            )

        case (.get, "/_sim/callbacks"):
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(callbacks.records)
            return Response(
                status: .ok, headers: [.contentType: json],
                body: .init(byteBuffer: ByteBuffer(bytes: data))
            )

        case (.post, "/_sim/scenarios"):
            var request = request
            let body = try await request.collectBody(upTo: 16 * 1024 * 1024)
            do {
                let book = try JSONDecoder().decode(ScenarioBook.self, from: Data(body.readableBytesView))
                state.apply(book, now: now())
                return Self.response(
                    200, contentType: json, body: "{\"status\":\"ok\",\"scenarios\":\(book.scenarios.count),\"segments\":\(book.segments.count)}")
            } catch {
                return Self.response(400, contentType: json, body: "{\"error\":\(StatusDocument.jsonString(ScenarioBook.describe(error)))}")
            }

        case (.post, "/_sim/reset"):
            state.reset()
            callbacks.clear()
            return Self.response(200, contentType: json, body: "{\"status\":\"ok\"}")

        case (_, "/_sim/health"), (_, "/_sim/requests"), (_, "/_sim/initiations"), (_, "/_sim/scenarios"), (_, "/_sim/reset"):
            return Self.response(405, contentType: json, body: "{\"error\":\"method not allowed\"}")

        default:
            return Self.response(404, contentType: json, body: "{\"error\":\"unknown control endpoint\"}")
        }
    }

    private func exportControl(path: String) async -> Response {
        let json = "application/json; charset=utf-8"
        let segments = path.dropFirst("/_sim/exports/".count).split(separator: "/", omittingEmptySubsequences: false)
            .map { String($0).removingPercentEncoding ?? String($0) }
        guard segments.count == 2, let clientID = segments.first, !clientID.isEmpty else {
            return Self.response(404, contentType: json, body: "{\"error\":\"expected /_sim/exports/{clientId}/{accessToken}\"}")
        }
        guard let accessToken = Int64(segments[1]) else {
            return Self.response(400, contentType: json, body: "{\"error\":\"the access token is not an integer\"}")
        }
        guard let snapshot = state.exportSnapshot(clientID: clientID, accessToken: accessToken) else {
            return Self.response(404, contentType: json, body: "{\"error\":\"the token's scenario has no Complete status\"}")
        }
        return Self.response(200, contentType: json, body: await SimulatedExport(snapshot).json)
    }

    var baseURL: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "http://\(shownHost):\(state.port)\(prefix)"
    }
}

import Foundation
import Hummingbird

extension SimulatorResponder {
    /// The content type of every control answer.
    static let controlJSON = "application/json; charset=utf-8"

    func health() -> Response {
        let body =
            "{\"status\":\"ok\",\"base_url\":\(StatusDocument.jsonString(baseURL)),\"port\":\(state.port),"
            + "\"recorded_requests\":\(state.recordCount),\"oauth_token_requests\":\(state.oauthTokenRequests)}"
        return Self.response(200, contentType: Self.controlJSON, body: body)
    }

    /// 200 with `value` as JSON, keys sorted.
    func listing(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(
            status: .ok, headers: [.contentType: Self.controlJSON], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func applyScenarios(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024 * 1024)
        do {
            let book = try JSONDecoder().decode(ScenarioBook.self, from: Data(body.readableBytesView))
            state.apply(book, now: now())
            return Self.response(
                200, contentType: Self.controlJSON,
                body: "{\"status\":\"ok\",\"scenarios\":\(book.scenarios.count),\"segments\":\(book.segments.count)}")
        } catch {
            return Self.response(
                400, contentType: Self.controlJSON,
                body: "{\"error\":\(StatusDocument.jsonString(ScenarioBook.describe(error)))}")
        }
    }

    func resetControl() -> Response {
        state.reset()
        callbacks.clear()
        return Self.response(200, contentType: Self.controlJSON, body: "{\"status\":\"ok\"}")
    }

    /// `GET /_sim/exports/{clientId}/{accessToken}` (both percent-decoded).
    func exportControl(clientID: String, tokenText: String) async -> Response {
        guard let accessToken = Int64(tokenText) else {
            return Self.response(
                400, contentType: Self.controlJSON, body: "{\"error\":\"the access token is not an integer\"}")
        }
        guard let snapshot = state.exportSnapshot(clientID: clientID, accessToken: accessToken) else {
            return Self.response(
                404, contentType: Self.controlJSON, body: "{\"error\":\"the token's scenario has no Complete status\"}")
        }
        return Self.response(200, contentType: Self.controlJSON, body: await SimulatedExport(snapshot).json)
    }

    /// A control request no route answers (``SimulatorRouting`` routes only paths without empty segments):
    /// a `GET` under `/_sim/exports/` of another shape → 404 naming the shape, or 400 for an empty access token
    /// (`/_sim/exports/{clientId}/`); anything else → 404.
    func unroutedControl(_ request: Request, path: String) -> Response {
        guard request.method == .get, path.hasPrefix("/_sim/exports/") else {
            return Self.response(404, contentType: Self.controlJSON, body: "{\"error\":\"unknown control endpoint\"}")
        }
        let segments = path.dropFirst("/_sim/exports/".count).split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 2, let clientID = segments.first, !clientID.isEmpty else {
            return Self.response(
                404, contentType: Self.controlJSON,
                body: "{\"error\":\"expected /_sim/exports/{clientId}/{accessToken}\"}")
        }
        return Self.response(
            400, contentType: Self.controlJSON, body: "{\"error\":\"the access token is not an integer\"}")
    }

    var baseURL: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "http://\(shownHost):\(state.port)\(prefix)"
    }
}

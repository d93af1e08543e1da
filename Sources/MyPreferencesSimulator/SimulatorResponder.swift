import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Per-request context: the simulator only needs the channel, to drop a connection on purpose.
struct SimulatorRequestContext: InitializableFromSource {
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.channel = source.channel
    }
}

/// Answers every request: the MyPreferences API under the path prefix, the OAuth token endpoint and the
/// `/_sim/*` control endpoints. Matching of literal path segments is case-insensitive, as in the vendor's
/// ASP.NET routing.
struct SimulatorResponder: HTTPResponder {
    typealias Context = SimulatorRequestContext

    let state: SimulatorState
    let authenticator: Authenticator
    let prefix: String
    let oauthTokenPath: String
    let host: String
    let now: @Sendable () -> Date
    let logFile: RequestLogFile?
    /// Sends the callbacks initiated exports asked for.
    let callbacks: CallbackSender

    /// What the handler decided: an HTTP answer, or closing the connection without one.
    enum Outcome {
        case respond(Response)
        case drop
    }

    enum Route {
        case status(clientID: String, accessToken: Substring, api3: Bool)
        /// `POST …/Export/Segment/{segmentName}` (path segment percent-decoded).
        case initiate(clientID: String, segmentName: String)
        /// One page of the export: `GET …/Export/Segment/{accessToken}?limit=&offset=&keepAlive=`.
        case retrieve(clientID: String, accessToken: Substring)
        /// `POST …/Export/Segment/Commit/{accessToken}?keepFiles=`.
        case commit(clientID: String, accessToken: Substring)
        case oauthToken
        case wrongMethod(clientID: String?)
        case notFound
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        if path == "/_sim" || path.hasPrefix("/_sim/") {
            return try await control(request, path: path)
        }
        var record = RecordedRequest(
            time: now(), method: request.method.rawValue, path: path,
            authScheme: Authenticator.presentedScheme(request.headers[.authorization]), status: nil
        )
        let outcome = try await answer(request, record: &record, channel: context.channel)
        switch outcome {
        case .respond(let response):
            record.status = response.status.code
            record.retryAfter = response.headers[.retryAfter]
            finish(record)
            return response
        case .drop:
            finish(record)
            // Closing makes the server's write of the placeholder below fail; the client sees the
            // connection close without any response bytes.
            try? await context.channel.close(mode: .all)
            return Response(status: .internalServerError)
        }
    }

    private func finish(_ record: RecordedRequest) {
        state.record(record)
        if state.recordsRequests { logFile?.append(record) }
    }

    // MARK: API

    private func answer(_ request: Request, record: inout RecordedRequest, channel: any Channel) async throws -> Outcome {
        let route = Self.route(path: record.path, method: request.method, prefix: prefix, oauthTokenPath: oauthTokenPath)
        switch route {
        case .notFound:
            return .respond(Self.message(404, "No HTTP resource was found that matches the request URI '\(record.path)'."))
        case .wrongMethod(let clientID):
            record.clientID = clientID
            return .respond(Self.message(405, "The requested resource does not support http method '\(request.method.rawValue)'."))
        case .oauthToken, .initiate, .status, .retrieve, .commit:
            break
        }

        if let window = state.hostWindow(at: record.time) {
            switch route {
            case .status(let clientID, let token, _), .retrieve(let clientID, let token), .commit(let clientID, let token):
                record.clientID = clientID
                record.accessToken = Int64(token)
            case .initiate(let clientID, _):
                record.clientID = clientID
            case .oauthToken, .wrongMethod, .notFound:
                break
            }
            return .respond(unavailable(retryAfter: window.retryAfter, body: nil, at: record.time))
        }

        switch route {
        case .oauthToken:
            return .respond(try await issueOAuthToken(request, at: record.time))

        case .initiate(let clientID, let segmentName):
            record.clientID = clientID
            if let refusal = refusal(request, clientID: clientID, at: record.time) { return .respond(refusal) }
            return try await initiate(request, clientID: clientID, segmentName: segmentName, record: &record)

        case .status(let clientID, let tokenText, let api3):
            record.clientID = clientID
            if let refusal = refusal(request, clientID: clientID, at: record.time) { return .respond(refusal) }
            guard let accessToken = Int64(tokenText) else {
                return .respond(Self.message(400, "The request is invalid: access token '\(tokenText)' is not an integer."))
            }
            record.accessToken = accessToken
            await prepareInitiatedExport(clientID: clientID, accessToken: accessToken, at: record.time)
            let step = state.nextStep(clientID: clientID, accessToken: accessToken, now: record.time)
            if let delay = step.delay, delay > .zero {
                try await Task.sleep(for: delay)
            }
            return perform(step, accessToken: accessToken, api3: api3, accept: request.headers[.accept])

        case .retrieve(let clientID, let tokenText):
            record.clientID = clientID
            if let refusal = refusal(request, clientID: clientID, at: record.time) { return .respond(refusal) }
            if let accessToken = Int64(tokenText) {
                await prepareInitiatedExport(clientID: clientID, accessToken: accessToken, at: record.time)
            }
            return retrieve(request, clientID: clientID, tokenText: tokenText, record: &record, channel: channel)

        case .commit(let clientID, let tokenText):
            record.clientID = clientID
            if let refusal = refusal(request, clientID: clientID, at: record.time) { return .respond(refusal) }
            if let accessToken = Int64(tokenText) {
                await prepareInitiatedExport(clientID: clientID, accessToken: accessToken, at: record.time)
            }
            return commit(request, clientID: clientID, tokenText: tokenText, record: &record)

        case .notFound, .wrongMethod:
            return .respond(Self.message(404, "No HTTP resource was found."))
        }
    }

    private func refusal(_ request: Request, clientID: String, at time: Date) -> Response? {
        do {
            try authenticator.verify(authorization: request.headers[.authorization], clientID: clientID, now: time)
            return nil
        } catch {
            return Self.response(
                401, contentType: StatusDocument.MediaType.json.contentType,
                body: "{\"Message\":\"Authorization has been denied for this request.\",\"Reason\":\(StatusDocument.jsonString(error.reason))}"
            )
        }
    }

    func perform(_ step: ScenarioStep, accessToken: Int64, api3: Bool, accept: String?) -> Outcome {
        switch step.answer {
        case .status(let status, let rowCount, let byteCount, let expires):
            let mediaType = StatusDocument.MediaType.negotiate(accept: accept)
            let document = StatusDocument(
                accessToken: accessToken, status: status, rowCount: rowCount, byteCount: byteCount,
                expires: api3 ? (expires ?? UTCTimestamp.iso8601Milliseconds(now() + 24 * 3600)) : nil
            )
            return .respond(Self.response(200, contentType: mediaType.contentType, body: document.body(for: mediaType)))
        case .http(let code, let body):
            if let body { return .respond(Self.response(code, contentType: Self.guessContentType(body), body: body)) }
            return .respond(Self.message(code, Self.defaultMessage(code)))
        case .unavailable(let retryAfter, let body):
            return .respond(unavailable(retryAfter: retryAfter, body: body, at: now()))
        case .drop:
            return .drop
        case .raw(let code, let contentType, let body):
            return .respond(Self.response(code, contentType: contentType, body: body))
        }
    }

    func unavailable(retryAfter: RetryAfter?, body: String?, at time: Date) -> Response {
        var response =
            if let body {
                Self.response(503, contentType: Self.guessContentType(body), body: body)
            } else {
                Self.message(503, Self.defaultMessage(503))
            }
        if let retryAfter {
            response.headers[.retryAfter] =
                switch retryAfter.form {
                case .seconds: String(retryAfter.seconds)
                case .httpDate: UTCTimestamp.imfFixdate(time + TimeInterval(retryAfter.seconds))
                }
        }
        return response
    }

    // MARK: Routing

    static func route(path: String, method: HTTPRequest.Method, prefix: String, oauthTokenPath: String) -> Route {
        if path == oauthTokenPath || path.lowercased() == oauthTokenPath.lowercased() {
            return method == .post ? .oauthToken : .wrongMethod(clientID: nil)
        }
        guard path.count > prefix.count, path.lowercased().hasPrefix(prefix.lowercased()) else { return .notFound }
        let rest = path.dropFirst(prefix.count)
        guard rest.first == "/" else { return .notFound }
        let segments = rest.split(separator: "/", omittingEmptySubsequences: true)
            .map { String($0).removingPercentEncoding ?? String($0) }
        func literal(_ index: Int, _ word: String) -> Bool {
            segments[index].caseInsensitiveCompare(word) == .orderedSame
        }
        switch segments.count {
        case 5 where literal(0, "Async") && literal(2, "Export") && literal(3, "Segment"):
            switch method {
            case .post: return .initiate(clientID: segments[1], segmentName: segments[4])
            case .get: return .retrieve(clientID: segments[1], accessToken: Substring(segments[4]))
            default: return .wrongMethod(clientID: segments[1])
            }
        case 6 where literal(0, "Async") && literal(2, "Export") && literal(3, "Segment") && literal(4, "Commit"):
            return method == .post ? .commit(clientID: segments[1], accessToken: Substring(segments[5])) : .wrongMethod(clientID: segments[1])
        case 5 where literal(1, "export") && literal(2, "Segment") && literal(3, "Commit"):
            return method == .post ? .commit(clientID: segments[0], accessToken: Substring(segments[4])) : .wrongMethod(clientID: segments[0])
        case 5 where literal(0, "Async") && literal(2, "Export") && literal(4, "Status"):
            return method == .get ? .status(clientID: segments[1], accessToken: Substring(segments[3]), api3: false) : .wrongMethod(clientID: segments[1])
        case 4 where literal(1, "status") && literal(2, "Token"):
            return method == .get ? .status(clientID: segments[0], accessToken: Substring(segments[3]), api3: true) : .wrongMethod(clientID: segments[0])
        case 4 where literal(1, "export") && literal(2, "Segment") && method == .post:
            return .initiate(clientID: segments[0], segmentName: segments[3])
        case 4 where literal(1, "export") && literal(2, "Segment") && method == .get:
            return .retrieve(clientID: segments[0], accessToken: Substring(segments[3]))
        default:
            return .notFound
        }
    }

    // MARK: Building responses

    static func response(_ code: Int, contentType: String?, body: String, extraHeaders: [(HTTPField.Name, String)] = []) -> Response {
        var headers = HTTPFields()
        if let contentType { headers[.contentType] = contentType }
        for (name, value) in extraHeaders { headers[name] = value }
        return Response(
            status: .init(code: code, reasonPhrase: reasonPhrase(code)),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }

    /// `{"Message": "…"}` in the vendor's ASP.NET Web API error style.
    static func message(_ code: Int, _ text: String) -> Response {
        response(code, contentType: StatusDocument.MediaType.json.contentType, body: "{\"Message\":\(StatusDocument.jsonString(text))}")
    }

    static func guessContentType(_ body: String) -> String {
        switch body.first {
        case "{", "[": "application/json; charset=utf-8"
        case "<": "application/xml; charset=utf-8"
        default: "text/plain; charset=utf-8"
        }
    }

    static func defaultMessage(_ code: Int) -> String {
        switch code {
        case 400: "The request is invalid."
        case 401: "Authorization has been denied for this request."
        case 403: "The user does not have permission for this request."
        case 404: "The resource was not found."
        case 500: "An error has occurred."
        case 503: "The service is temporarily unavailable. Delay your request for some time."
        default: reasonPhrase(code)
        }
    }

    static func reasonPhrase(_ code: Int) -> String {
        switch code {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 413: "Content Too Large"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: ""
        }
    }
}

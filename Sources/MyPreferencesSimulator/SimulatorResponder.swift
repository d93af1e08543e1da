import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// Per-request context: the router's storage, the channel (to drop a connection on purpose) and, for an API
/// request, its record.
struct SimulatorRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel
    /// The record of the API request being answered (set by ``SimulatorRouting``); nil for `/_sim/*`.
    var record: RequestRecord?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// The record of one API request, completed by the route that answers it.
final class RequestRecord: Sendable {
    private let value: Mutex<RecordedRequest>

    init(_ record: RecordedRequest) {
        self.value = Mutex(record)
    }

    var current: RecordedRequest {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// Answers each route: the MyPreferences API under the path prefix, the OAuth token endpoint and the
/// `/_sim/*` control endpoints. ``SimulatorRouting`` routes requests here.
struct SimulatorResponder: Sendable {
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

    func finish(_ record: RecordedRequest) {
        state.record(record)
        if state.recordsRequests { logFile?.append(record) }
    }

    // MARK: API

    /// The checks every API request passes first, in order: the host-wide 503 window, then authentication
    /// (skipped for the OAuth token endpoint, `clientID` nil). Records the client ID and, in a 503 window, the
    /// access token (`tokenText`, when numeric). Nil when the request may go on.
    func admit(_ request: Request, clientID: String?, tokenText: String?, record: inout RecordedRequest) -> Response? {
        record.clientID = clientID
        if let window = state.hostWindow(at: record.time) {
            record.accessToken = tokenText.flatMap { Int64($0) }
            return unavailable(retryAfter: window.retryAfter, body: nil, at: record.time)
        }
        guard let clientID else { return nil }
        return refusal(request, clientID: clientID, at: record.time)
    }

    /// `GET …/Async/{clientId}/Export/{accessToken}/Status` and the API/3 form `GET …/{clientId}/status/Token/{accessToken}`.
    func status(_ request: Request, clientID: String, tokenText: String, api3: Bool, record: inout RecordedRequest)
        async throws -> Outcome
    {
        if let early = admit(request, clientID: clientID, tokenText: tokenText, record: &record) {
            return .respond(early)
        }
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
    }

    private func refusal(_ request: Request, clientID: String, at time: Date) -> Response? {
        do {
            try authenticator.verify(authorization: request.headers[.authorization], clientID: clientID, now: time)
            return nil
        } catch {
            return Self.response(
                401, contentType: StatusDocument.MediaType.json.contentType,
                body:
                    "{\"Message\":\"Authorization has been denied for this request.\",\"Reason\":\(StatusDocument.jsonString(error.reason))}"
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

    // MARK: Building responses

    static func response(_ code: Int, contentType: String?, body: String, extraHeaders: [(HTTPField.Name, String)] = [])
        -> Response
    {
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
        response(
            code, contentType: StatusDocument.MediaType.json.contentType,
            body: "{\"Message\":\(StatusDocument.jsonString(text))}")
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

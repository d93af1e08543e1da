import Foundation
import Hummingbird
import NIOCore

extension SimulatorResponder {
    /// Largest initiate body read; a larger one is refused with 400.
    static let maximumInitiateBody = 1024 * 1024

    /// `POST …/Export/Segment/{segmentName}`: the 503 windows and authentication (``admit``), then the body (400) → client
    /// ID (404 when segments are configured but none for it) → segment name (400) → the segment's next
    /// initiate fault → 200 `{"AccessToken": N}`. Documented on ``MyPreferencesSimulator``.
    func initiate(_ request: Request, clientID: String, segmentName: String, record: inout RecordedRequest) async throws
        -> Outcome
    {
        if let early = admit(request, clientID: clientID, tokenText: nil, record: &record) { return .respond(early) }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maximumInitiateBody)
        } catch {
            return .respond(
                Self.message(
                    400,
                    "The request is invalid: the body is larger than \(Self.maximumInitiateBody) bytes or could not be read."
                ))
        }
        let parsed: InitiateRequest
        do {
            parsed = try InitiateRequest(body: Array(body.readableBytesView))
        } catch {
            return .respond(Self.message(400, error.message))
        }

        switch state.initiate(clientID: clientID, segmentName: segmentName, request: parsed, now: record.time) {
        case .unknownClient:
            return .respond(Self.message(404, "Client ID '\(clientID)' was not found"))
        case .unknownSegment:
            return .respond(Self.message(400, "Segment '\(segmentName)' was not found"))
        case .refused(let fault):
            return .respond(faultAnswer(fault))
        case .created(let accessToken, let fault):
            record.accessToken = accessToken
            if let callback = state.plannedCallback(clientID: clientID, accessToken: accessToken) {
                callbacks.schedule(callback)
            }
            let answer = Self.response(
                200, contentType: StatusDocument.MediaType.json.contentType, body: "{\"AccessToken\":\(accessToken)}")
            switch fault {
            case nil:
                return .respond(answer)
            case .drop:
                return .drop
            case .delay(let delay):
                try await Task.sleep(for: delay)
                state.markAnswered(accessToken: accessToken)
                return .respond(answer)
            case let fault?:
                return .respond(faultAnswer(fault))
            }
        }
    }

    /// The answer a fault gives instead of the access token: 503 (with `Retry-After`) or the fault's code.
    private func faultAnswer(_ fault: InitiateFault) -> Response {
        switch fault {
        case .unavailable(let retryAfter):
            unavailable(retryAfter: retryAfter, body: nil, at: now())
        case .http(let code, _):
            Self.message(code, Self.defaultMessage(code))
        case .drop, .delay:  // answered by the caller; never refused
            Self.message(500, Self.defaultMessage(500))
        }
    }

    /// Computes and caches the canonical byte count of the initiated export of `accessToken` once it is ready
    /// at `time` — outside the state lock, so that its `Complete` answer can carry `ByteCount`. Costs one
    /// generation of every record, once per export.
    func prepareInitiatedExport(clientID: String, accessToken: Int64, at time: Date) async {
        guard
            let records = state.initiatedExportAwaitingByteCount(
                clientID: clientID, accessToken: accessToken, now: time)
        else { return }
        let byteCount = await records.canonicalByteCount()
        state.cacheByteCount(byteCount, clientID: clientID, accessToken: accessToken)
    }
}

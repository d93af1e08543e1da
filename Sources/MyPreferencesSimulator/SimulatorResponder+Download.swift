import Hummingbird
import NIOCore

extension SimulatorResponder {
    /// Largest `limit` accepted; the vendor documents none.
    static let maximumPageLimit: Int64 = 100_000

    /// `GET …/Export/Segment/{accessToken}?limit=&offset=&keepAlive=`: the 503 windows and authentication (``admit``), then
    /// token syntax (400) → query (400) → the export's state (404 unknown / 400 not complete / 404 retrieved
    /// or expired) → a page fault, if one matches → the page.
    func retrieve(
        _ request: Request, clientID: String, tokenText: String, record: inout RecordedRequest, channel: any Channel
    ) async -> Outcome {
        if let early = admit(request, clientID: clientID, tokenText: tokenText, record: &record) {
            return .respond(early)
        }
        guard let accessToken = Int64(tokenText) else {
            return .respond(Self.message(400, "The request is invalid: access token '\(tokenText)' is not an integer."))
        }
        await prepareInitiatedExport(clientID: clientID, accessToken: accessToken, at: record.time)
        record.accessToken = accessToken
        let query = QueryParameters(request.uri.query)
        let offset: Int64, limit: Int64, keepAlive: Bool
        do {
            limit = try query.integer("limit", default: 1000, in: 1...Self.maximumPageLimit)
            offset = try query.integer("offset", default: 1, in: 1...Int64.max)
            keepAlive = try query.boolean("keepAlive") ?? false
        } catch {
            return .respond(Self.message(400, error.message))
        }
        record.offset = offset
        record.limit = limit
        record.keepAlive = keepAlive

        switch state.servePage(
            clientID: clientID, accessToken: accessToken, offset: offset, limit: limit, keepAlive: keepAlive,
            now: record.time)
        {
        case .unknownToken:
            return .respond(Self.message(404, "No export was found for access token \(accessToken)."))
        case .notComplete:
            return .respond(Self.message(400, "The export is not complete."))
        case .alreadyRetrieved:
            return .respond(Self.message(404, "The export has already been retrieved."))
        case .expired:
            return .respond(Self.message(404, "The export has expired."))
        case .fault(.unavailable(let retryAfter)):
            return .respond(unavailable(retryAfter: retryAfter, body: nil, at: now()))
        case .fault(.http(let code, let body)):
            return perform(.http(code, body: body), accessToken: accessToken, api3: false, accept: nil)
        case .fault(.drop):
            return .drop
        case .fault:  // .serverError (the other kinds alter a page rather than replace it)
            return .respond(Self.message(500, Self.defaultMessage(500)))
        case .page(let page):
            return .respond(Self.pageResponse(page, channel: channel))
        }
    }

    /// `POST …/Export/Segment/Commit/{accessToken}?keepFiles=`: the 503 windows and authentication (``admit``), then
    /// 200 `{"Message":"Committed."}`; 404 for an unknown or expired token, 400 before `Complete`.
    func commit(_ request: Request, clientID: String, tokenText: String, record: inout RecordedRequest) async -> Outcome
    {
        if let early = admit(request, clientID: clientID, tokenText: tokenText, record: &record) {
            return .respond(early)
        }
        guard let accessToken = Int64(tokenText) else {
            return .respond(Self.message(400, "The request is invalid: access token '\(tokenText)' is not an integer."))
        }
        await prepareInitiatedExport(clientID: clientID, accessToken: accessToken, at: record.time)
        record.accessToken = accessToken
        let keepFiles: Bool?
        do {
            keepFiles = try QueryParameters(request.uri.query).boolean("keepFiles")
        } catch {
            return .respond(Self.message(400, error.message))
        }
        record.keepFiles = keepFiles
        switch state.commit(clientID: clientID, accessToken: accessToken, keepFiles: keepFiles, now: record.time) {
        case .unknownToken: return .respond(Self.message(404, "No export was found for access token \(accessToken)."))
        case .notComplete: return .respond(Self.message(400, "The export is not complete."))
        case .expired: return .respond(Self.message(404, "The export has expired."))
        case .committed: return .respond(Self.message(200, "Committed."))
        }
    }

    /// Thrown from a body writer after closing the connection on purpose, so the server stops writing.
    private struct PageReset: Error {}

    /// 200 with the page as JSON; a `reset` fault closes the connection part-way, a `slow` one drips the body.
    static func pageResponse(_ page: ExportPage, channel: any Channel) -> Response {
        let body = page.body
        let length = body.readableBytes
        let headers: HTTPFields = [.contentType: StatusDocument.MediaType.json.contentType]
        switch page.fault {
        case .reset(let afterBytes):
            let cut = min(afterBytes ?? length / 2, length)
            let part = body.getSlice(at: body.readerIndex, length: cut) ?? ByteBuffer()
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody(contentLength: length) { writer in
                    if part.readableBytes > 0 { try await writer.write(part) }
                    try? await channel.close(mode: .all)
                    throw PageReset()
                })
        case .slow(let delay, let chunks):
            let pieceLength = max(1, (length + chunks - 1) / chunks)
            let gap = delay / max(1, (length + pieceLength - 1) / pieceLength - 1)
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody(contentLength: length) { writer in
                    var start = 0
                    while start < length {
                        let size = min(pieceLength, length - start)
                        if let piece = body.getSlice(at: body.readerIndex + start, length: size) {
                            try await writer.write(piece)
                        }
                        start += size
                        if start < length { try await Task.sleep(for: gap) }
                    }
                    try await writer.finish(nil)
                })
        default:
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
        }
    }
}

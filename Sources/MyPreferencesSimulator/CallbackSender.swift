import AsyncHTTPClient
import Foundation
import Logging
import MprefCore
import NIOCore
import ServiceLifecycle
import Synchronization
import NIOHTTP1

/// One callback the simulator sent (or did not): an element of ``MyPreferencesSimulator/callbacks()``
/// and `GET /_sim/callbacks`.
///
/// JSON form: `{"client_id":"ACME_Co","access_token":7,"url":"http://127.0.0.1:9465/…","result":"sent",
/// "http_status":202,"error":null,"at":"2024-03-05T07:08:09.123Z"}` (nulls written out).
package struct SimulatedCallback: Codable, Sendable, Equatable {
    /// What became of it.
    package enum Result: String, Codable, Sendable {
        /// POSTed; ``httpStatus`` is the answer's status.
        case sent
        /// Not sent: the segment's `callback_failure_rate` drew a lost callback.
        case dropped
        /// The POST failed (no connection, timeout): ``error`` says why.
        case failed
    }

    package var clientID: String
    package var accessToken: Int64
    /// The `CallbackURL` of the initiate.
    package var url: String
    package var result: Result
    /// The answer's status code when ``result`` is `sent`.
    package var httpStatus: Int?
    package var error: String?
    /// When it was sent, dropped or failed (simulator clock), UTC.
    package var at: Date

    package init(
        clientID: String, accessToken: Int64, url: String, result: Result, httpStatus: Int? = nil, error: String? = nil,
        at: Date
    ) {
        self.clientID = clientID
        self.accessToken = accessToken
        self.url = url
        self.result = result
        self.httpStatus = httpStatus
        self.error = error
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case clientID = "client_id", accessToken = "access_token", url, result, httpStatus = "http_status", error, at
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let atText = try c.decode(String.self, forKey: .at)
        guard let at = UTCTimestamp.parseISO8601(atText) else {
            throw DecodingError.dataCorruptedError(
                forKey: .at, in: c, debugDescription: "not an ISO 8601 UTC time: \(atText)")
        }
        self.init(
            clientID: try c.decode(String.self, forKey: .clientID),
            accessToken: try c.decode(Int64.self, forKey: .accessToken),
            url: try c.decode(String.self, forKey: .url), result: try c.decode(Result.self, forKey: .result),
            httpStatus: try c.decodeIfPresent(Int.self, forKey: .httpStatus),
            error: try c.decodeIfPresent(String.self, forKey: .error), at: at)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(clientID, forKey: .clientID)
        try c.encode(accessToken, forKey: .accessToken)
        try c.encode(url, forKey: .url)
        try c.encode(result, forKey: .result)
        try c.encode(httpStatus, forKey: .httpStatus)
        try c.encode(error, forKey: .error)
        try c.encode(UTCTimestamp.iso8601Milliseconds(at), forKey: .at)
    }
}

/// Sends the callbacks initiated exports asked for (``SegmentScenario``, "Callbacks"): one task per
/// callback sleeps until the export is ready plus the segment's `callback_delay_s`, then POSTs its
/// status document. A service of the simulator's `ServiceGroup`: on stop, callbacks not yet sent are
/// cancelled. Never retried.
final class CallbackSender: Service, Sendable {
    private let stream: AsyncStream<PlannedCallback>
    private let continuation: AsyncStream<PlannedCallback>.Continuation
    private let now: @Sendable () -> Date
    private let sent = Mutex<[SimulatedCallback]>([])
    /// Most records kept; older ones are dropped first.
    static let recordLimit = 100_000
    /// A callback POST's whole deadline. 5 s.
    static let timeout: TimeAmount = .seconds(5)

    init(now: @escaping @Sendable () -> Date) {
        (stream, continuation) = AsyncStream.makeStream(of: PlannedCallback.self)
        self.now = now
    }

    /// Plans `callback` (sent later, by ``run()``).
    func schedule(_ callback: PlannedCallback) {
        continuation.yield(callback)
    }

    /// What was sent, dropped or failed so far, oldest first.
    var records: [SimulatedCallback] { sent.withLock { $0 } }

    /// Forgets the records (``MyPreferencesSimulator/reset()``).
    func clear() { sent.withLock { $0.removeAll() } }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for await callback in self.stream {
                    group.addTask { await self.deliver(callback) }
                }
            }
        }
    }

    private func deliver(_ callback: PlannedCallback) async {
        let wait = max(0, callback.readyAt.timeIntervalSince(now())) + callback.delay.secondsDouble
        do {
            try await Task.sleep(for: .milliseconds(Int64(saturating: (wait * 1000).rounded())))
        } catch {
            return  // stopped
        }
        guard !callback.isDropped else {
            note(
                SimulatedCallback(
                    clientID: callback.clientID, accessToken: callback.accessToken, url: callback.url, result: .dropped,
                    at: now()))
            return
        }
        let byteCount = await callback.records.canonicalByteCount()
        let body =
            "{\"AccessToken\":\(callback.accessToken),\"Status\":\"Complete\",\"RowCount\":\(callback.records.count),\"ByteCount\":\(byteCount)}"
        var request = HTTPClientRequest(url: callback.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: Self.timeout)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            note(
                SimulatedCallback(
                    clientID: callback.clientID, accessToken: callback.accessToken, url: callback.url, result: .sent,
                    httpStatus: Int(response.status.code), at: now()))
        } catch {
            if Task.isCancelled { return }
            note(
                SimulatedCallback(
                    clientID: callback.clientID, accessToken: callback.accessToken, url: callback.url, result: .failed,
                    error: "\(error)", at: now()))
        }
    }

    private func note(_ record: SimulatedCallback) {
        sent.withLock { records in
            records.append(record)
            if records.count > Self.recordLimit { records.removeFirst(records.count - Self.recordLimit) }
        }
    }
}

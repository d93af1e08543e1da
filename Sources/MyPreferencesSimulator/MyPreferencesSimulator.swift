import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// A faithful fake of the PossibleNOW MyPreferences async-export API, served over real HTTP by Hummingbird,
/// for tests, benchmarks and the demo.
///
/// Served under ``SimulatorConfiguration/pathPrefix`` (default `/Profiles`):
/// - `GET Async/{clientId}/Export/{accessToken}/Status` and the API/3 form `GET {clientId}/status/Token/{accessToken}`
///   (adds `Expires`): an `AsyncApiDataExportStatusResult` as JSON, or XML when `Accept` prefers
///   `application/xml`/`text/xml`; a non-numeric access token gets 400. What each poll answers is scripted by a
///   ``Scenario`` per token (default ``Scenario/standard``).
/// - `POST Async/{clientId}/Export/Segment/{segmentName}` (and API/3 `POST {clientId}/export/Segment/{segmentName}`):
///   initiates an export of a segment (``ScenarioBook/segments``, ``SegmentScenario``) and answers
///   `{"AccessToken": N}`, N increasing from ``SimulatorConfiguration/firstAccessToken``. Details below.
/// - `GET Async/{clientId}/Export/Segment/{accessToken}?limit=&offset=&keepAlive=` (API/3:
///   `GET {clientId}/export/Segment/{accessToken}?…`): one page of the export once the token has served
///   `Complete`; `POST Async/{clientId}/Export/Segment/Commit/{accessToken}?keepFiles=` (API/3:
///   `POST {clientId}/export/Segment/Commit/{accessToken}?…`): the commit. Rules, page faults and the
///   scenario's `export` object are documented on ``Scenario``.
/// - the OAuth token endpoint (``SimulatorConfiguration/oauthTokenPath``), and the `/_sim/*` control endpoints
///   (`GET /_sim/health`, `GET /_sim/requests`, `GET /_sim/initiations`, `POST /_sim/scenarios`, `POST /_sim/reset`,
///   `GET /_sim/exports/{clientId}/{accessToken}`).
///
/// Order of checks for an API request: host-wide 503 window → authentication (401 with
/// `{"Message": …, "Reason": …}`) → access token syntax (400) → the token's next scenario step (a download:
/// query (400) → export state → page fault → page).
///
/// ## Initiate
/// After the 503 windows and authentication:
/// 1. the body (``InitiateRequest``: JSON, may be empty or `{}`; keys `CallbackURL`, `LastDateTime`,
///    `MatchCriteria`, `MatchType`, `Values`, any case) — 400 `{"Message": "The request is invalid: …"}`
///    naming the problem (malformed JSON, a wrong type, a `LastDateTime` not `YYYY-MM-DDTHH:mm:ss.sssZ`, an
///    unknown `MatchCriteria`, `AlternateId` without `MatchType`, `Values` without `MatchCriteria` or vice versa);
/// 2. the client ID — 404 `{"Message":"Client ID 'X' was not found"}` unless some segment entry names it
///    or some entry has no `client_id`;
/// 3. the segment name, matched exactly (case-sensitive; an entry for the client ID wins over one for every
///    client ID) — 400 `{"Message":"Segment 'X' was not found"}`;
/// 4. the segment's next initiate fault, if any (``SegmentScenario``: `drop`, `delay_s`, `unavailable`, `http`);
/// 5. 200 `{"AccessToken": N}`. The export holds the segment's records changed in [LastDateTime′, T) — T the
///    initiate time, LastDateTime′ the body's `LastDateTime` rounded up as the vendor documents
///    (``MprefCore/LastDateTime/vendorRounded(milliseconds:)``; without one, every record changed before T) — in
///    change-time order; with `MatchCriteria: ProfileId`, only those whose `ProfileId` is in `Values` (other
///    criteria are accepted and do not filter). Its status is `Processing` (counts 0) until the segment's
///    processing time has passed since the initiate, then `Complete` with `RowCount` = its records and
///    `ByteCount` = its canonical file's size (computed once, when first needed). From then on it is
///    retrieved, committed and reported by `GET /_sim/exports/…` exactly like a scripted export (the first
///    poll, retrieve or commit after it is ready makes it downloadable). A scenario of the token's own
///    (``setScenario(_:accessToken:clientID:)``, a `scenarios` entry) wins over all this.
///
/// Each created export is recorded as an ``Initiation`` (``initiations()``, `GET /_sim/initiations`).
/// When its body carried `CallbackURL`, the export's status is POSTed there once it is `Complete`, after
/// the segment's `callback_delay_s` (``SegmentScenario``, "Callbacks"; ``callbacks()``, `GET /_sim/callbacks`).
/// While no segment is configured at all, initiate keeps its earlier behaviour after the body check: any
/// client ID and segment name get a fresh token whose polls follow its scenario (the default one unless set).
///
/// A download test in a few lines:
/// ```swift
/// await simulator.setScenario(.complete(records: 2500), accessToken: 42)
/// // poll GET …/Async/ACME_Co/Export/42/Status once (Complete), then page through
/// // GET …/Async/ACME_Co/Export/Segment/42?limit=1000&offset=1&keepAlive=true and POST …/Segment/Commit/42?keepFiles=false
/// let expected = await simulator.export(accessToken: 42, clientID: "ACME_Co")  // .sha256, .bytes, .isCommitted, .keepFiles
/// ```
/// Every API request is recorded (``requests()``) without its credentials.
///
/// ```swift
/// let simulator = try await MyPreferencesSimulator.start(SimulatorConfiguration(), logger: logger)
/// defer { Task { await simulator.stop() } }
/// // GET \(simulator.baseURL)/Async/ACME_Co/Export/42/Status
/// ```
package final class MyPreferencesSimulator: Sendable {
    /// The failure to start; the description is safe to log.
    package struct StartError: Error, CustomStringConvertible {
        /// What went wrong.
        package var description: String
    }

    /// The bound TCP port (the ephemeral one when configured with port 0).
    package let port: Int
    /// The configuration the simulator was started with.
    package let configuration: SimulatorConfiguration
    let state: SimulatorState
    private let callbackSender: CallbackSender
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(
        port: Int, configuration: SimulatorConfiguration, state: SimulatorState, callbacks: CallbackSender,
        group: ServiceGroup,
        running: Task<Void, any Error>
    ) {
        self.callbackSender = callbacks
        self.port = port
        self.configuration = configuration
        self.state = state
        self.group = group
        self.running = running
    }

    /// `http://HOST:PORT{prefix}`, e.g. `http://127.0.0.1:50123/Profiles` — the base URL a client is configured with.
    package var baseURL: String {
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return "http://\(host):\(port)\(configuration.normalizedPrefix)"
    }

    /// Starts the server and returns once it is listening.
    /// - Throws: ``StartError`` when the server stops before listening, an error naming the path when
    ///   ``SimulatorConfiguration/requestLogPath`` cannot be opened, or the server's bind error (e.g. address in use).
    package static func start(_ configuration: SimulatorConfiguration = SimulatorConfiguration(), logger: Logger)
        async throws -> MyPreferencesSimulator
    {
        let state = SimulatorState(configuration: configuration, startedAt: configuration.now())
        let logFile = try configuration.requestLogPath.map { try RequestLogFile(path: $0) }
        let callbacks = CallbackSender(now: configuration.now)
        let responder = SimulatorResponder(
            state: state,
            authenticator: Authenticator(
                auth: configuration.auth, validity: configuration.pnauthinfo3Validity,
                skew: configuration.clockSkewAllowance, state: state
            ),
            prefix: configuration.normalizedPrefix,
            oauthTokenPath: configuration.effectiveOAuthTokenPath,
            host: configuration.host,
            now: configuration.now,
            logFile: logFile,
            callbacks: callbacks
        )
        let (events, continuation) = AsyncStream.makeStream(of: Result<Int, any Error>.self)
        let app = Application(
            responder: SimulatorRouting(responder),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in
                continuation.yield(.success(channel.localAddress?.port ?? 0))
            },
            logger: logger
        )
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: app), .init(service: callbacks)],
            gracefulShutdownSignals: configuration.stopsOnTerminationSignals ? [.sigterm, .sigint] : [],
            logger: logger
        )
        // Requests still in flight (e.g. a long delay_ms) are cancelled after this.
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(3)
        let group = ServiceGroup(configuration: groupConfiguration)
        let running = Task {
            do {
                try await group.run()
                continuation.yield(.failure(StartError(description: "the simulator stopped before listening")))
                continuation.finish()
            } catch {
                continuation.yield(.failure(error))
                continuation.finish()
                throw error
            }
        }
        for await event in events {
            switch event {
            case .success(let port):
                state.port = port
                return MyPreferencesSimulator(
                    port: port, configuration: configuration, state: state, callbacks: callbacks, group: group,
                    running: running)
            case .failure(let error):
                running.cancel()
                throw error
            }
        }
        running.cancel()
        throw StartError(description: "the simulator stopped before listening")
    }

    /// Every API request recorded so far (up to ``SimulatorConfiguration/requestRecordLimit``), oldest first.
    /// Empty when recording is off.
    package func requests() async -> [RecordedRequest] {
        state.records
    }

    /// Every export created by an initiate request since start or ``reset()`` (at most 100,000, oldest
    /// dropped first), oldest first: what `GET /_sim/initiations` answers. E.g. one command started one
    /// export when exactly one initiation has its segment.
    package func initiations() async -> [Initiation] {
        state.initiations
    }

    /// Every callback sent, dropped (`callback_failure_rate`) or failed so far, oldest first: what
    /// `GET /_sim/callbacks` answers. See ``SegmentScenario`` ("Callbacks").
    package func callbacks() async -> [SimulatedCallback] {
        callbackSender.records
    }

    /// API requests received and not answered yet, e.g. held by a scenario's `delay` (a request is in
    /// ``requests()`` only once answered). A request counts as answered once its response is handed
    /// to the server: a `slow` page fault's body may still be streaming. Counted whether recording is
    /// on or off, and across a ``reset()``.
    package func requestsInFlight() async -> Int {
        state.requestsInFlight
    }

    /// Returns once at least `count` API requests are in flight at the same time (see
    /// ``requestsInFlight()``; at once if they already are), or once the calling task is cancelled
    /// (e.g. by a test's time limit): the event a test waits for instead of sleeping.
    package func waitForRequestsInFlight(_ count: Int) async {
        await state.waitForRequestsInFlight(count)
    }

    /// Forgets the recorded requests.
    package func clearRequests() async {
        state.clearRecords()
    }

    /// Scripts `accessToken` (under `clientID` only, or any client ID when nil) and restarts its progress.
    package func setScenario(_ scenario: Scenario, accessToken: Int64, clientID: String? = nil) async {
        state.setScenario(scenario, accessToken: accessToken, clientID: clientID)
    }

    /// Merges `book` as `POST /_sim/scenarios` does (its host windows count from now, its segments' datasets
    /// start now).
    package func apply(_ book: ScenarioBook) async {
        state.apply(book, now: configuration.now())
    }

    /// Replaces the host-wide 503 windows; offsets count from now. An empty array makes the host available.
    package func setHostUnavailable(_ windows: [HostUnavailableWindow]) async {
        state.apply(ScenarioBook(hostUnavailable: windows), now: configuration.now())
    }

    /// Requests made to the OAuth token endpoint (successful or not) since start or ``reset()``.
    package func oauthTokenRequestCount() async -> Int {
        state.oauthTokenRequests
    }

    /// The export of `accessToken` under `clientID` — its canonical file's size and SHA-256 and how far its
    /// download has gone — as `GET /_sim/exports/{clientId}/{accessToken}` reports it; nil when the token's
    /// scenario has no `Complete` step. Hashing generates every record (cost grows with the record count).
    package func export(accessToken: Int64, clientID: String) async -> SimulatedExport? {
        guard let snapshot = state.exportSnapshot(clientID: clientID, accessToken: accessToken) else { return nil }
        return await SimulatedExport(snapshot)
    }

    /// The canonical file of an export (see ``SimulatedExport``) from `offset` (1-based), at most `limit` records:
    /// each record's JSON bytes followed by `\n`. Without touching the download state.
    package func canonicalRecords(accessToken: Int64, clientID: String, offset: Int64 = 1, limit: Int64) async
        -> [UInt8]?
    {
        guard let snapshot = state.exportSnapshot(clientID: clientID, accessToken: accessToken) else { return nil }
        var json = JSONBytes()
        var index = max(1, offset)
        var remaining = limit
        while remaining > 0, index <= snapshot.records.count {
            snapshot.records.write(index, into: &json)
            json.bytes.append(UInt8(ascii: "\n"))
            remaining -= 1
            if index == Int64.max { break }
            index += 1
        }
        return json.bytes
    }

    /// Back to the configured scenarios, default scenario, host windows and segments (their initiate faults
    /// start over; their datasets keep the server start); clears records, per-token progress, exports,
    /// initiations and the OAuth token-request count. Issued OAuth tokens stay valid; access tokens keep increasing.
    package func reset() async {
        state.reset()
        callbackSender.clear()
    }

    /// Shuts the server down gracefully (idle connections closed, requests in flight get up to 3 s before
    /// they are cancelled) and waits until it has stopped. Idempotent.
    package func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
    }

    /// Waits until the server stops: after ``stop()``, or after SIGTERM/SIGINT when
    /// ``SimulatorConfiguration/stopsOnTerminationSignals`` is set.
    /// - Throws: the server's error when it failed rather than shut down.
    package func waitUntilStopped() async throws {
        try await running.value
    }
}

extension SimulatorAuth {
    /// `base64(HMAC-SHA256(key: secret as UTF-8, message: "{clientID}:{userID}:{issuedTimestamp}"))` —
    /// the PNAUTHINFO3 signature the simulator expects.
    package static func pnauthinfo3Signature(secret: String, clientID: String, userID: String, issuedTimestamp: String)
        -> String
    {
        Authenticator.signature(secret: secret, clientID: clientID, userID: userID, issuedTimestamp: issuedTimestamp)
    }
}

import Foundation
import Hummingbird
public import Logging
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
///   `{"AccessToken": N}` with N increasing from ``SimulatorConfiguration/firstAccessToken``.
/// - `GET Async/{clientId}/Export/Segment/{accessToken}?limit=&offset=&keepAlive=` (API/3:
///   `GET {clientId}/export/Segment/{accessToken}?…`): one page of the export once the token has served
///   `Complete`; `POST Async/{clientId}/Export/Segment/Commit/{accessToken}?keepFiles=` (API/3:
///   `POST {clientId}/export/Segment/Commit/{accessToken}?…`): the commit. Rules, page faults and the
///   scenario's `export` object are documented on ``Scenario``.
/// - the OAuth token endpoint (``SimulatorConfiguration/oauthTokenPath``), and the `/_sim/*` control endpoints
///   (`GET /_sim/health`, `GET /_sim/requests`, `POST /_sim/scenarios`, `POST /_sim/reset`,
///   `GET /_sim/exports/{clientId}/{accessToken}`).
///
/// Order of checks for an API request: host-wide 503 window → authentication (401 with
/// `{"Message": …, "Reason": …}`) → access token syntax (400) → the token's next scenario step (a download:
/// query (400) → export state → page fault → page).
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
public final class MyPreferencesSimulator: Sendable {
    /// The failure to start; the description is safe to log.
    public struct StartError: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    /// The bound TCP port (the ephemeral one when configured with port 0).
    public let port: Int
    /// The configuration the simulator was started with.
    public let configuration: SimulatorConfiguration
    let state: SimulatorState
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(
        port: Int, configuration: SimulatorConfiguration, state: SimulatorState, group: ServiceGroup, running: Task<Void, any Error>
    ) {
        self.port = port
        self.configuration = configuration
        self.state = state
        self.group = group
        self.running = running
    }

    /// `http://HOST:PORT{prefix}`, e.g. `http://127.0.0.1:50123/Profiles` — the base URL a client is configured with.
    public var baseURL: String {
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return "http://\(host):\(port)\(configuration.normalizedPrefix)"
    }

    /// Starts the server and returns once it is listening.
    /// - Throws: ``StartError`` when the server stops before listening, an error naming the path when
    ///   ``SimulatorConfiguration/requestLogPath`` cannot be opened, or the server's bind error (e.g. address in use).
    public static func start(_ configuration: SimulatorConfiguration = SimulatorConfiguration(), logger: Logger) async throws -> MyPreferencesSimulator {
        let state = SimulatorState(configuration: configuration, startedAt: configuration.now())
        let logFile = try configuration.requestLogPath.map { try RequestLogFile(path: $0) }
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
            logFile: logFile
        )
        let (events, continuation) = AsyncStream.makeStream(of: Result<Int, any Error>.self)
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in
                continuation.yield(.success(channel.localAddress?.port ?? 0))
            },
            logger: logger
        )
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: app)],
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
                return MyPreferencesSimulator(port: port, configuration: configuration, state: state, group: group, running: running)
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
    public func requests() async -> [RecordedRequest] {
        state.records
    }

    /// Forgets the recorded requests.
    public func clearRequests() async {
        state.clearRecords()
    }

    /// Scripts `accessToken` (under `clientID` only, or any client ID when nil) and restarts its progress.
    public func setScenario(_ scenario: Scenario, accessToken: Int64, clientID: String? = nil) async {
        state.setScenario(scenario, accessToken: accessToken, clientID: clientID)
    }

    /// Merges `book` as `POST /_sim/scenarios` does (its host windows count from now).
    public func apply(_ book: ScenarioBook) async {
        state.apply(book, now: configuration.now())
    }

    /// Replaces the host-wide 503 windows; offsets count from now. An empty array makes the host available.
    public func setHostUnavailable(_ windows: [HostUnavailableWindow]) async {
        state.apply(ScenarioBook(hostUnavailable: windows), now: configuration.now())
    }

    /// Requests made to the OAuth token endpoint (successful or not) since start or ``reset()``.
    public func oauthTokenRequestCount() async -> Int {
        state.oauthTokenRequests
    }

    /// The export of `accessToken` under `clientID` — its canonical file's size and SHA-256 and how far its
    /// download has gone — as `GET /_sim/exports/{clientId}/{accessToken}` reports it; nil when the token's
    /// scenario has no `Complete` step. Hashing generates every record (cost grows with the record count).
    public func export(accessToken: Int64, clientID: String) async -> SimulatedExport? {
        guard let snapshot = state.exportSnapshot(clientID: clientID, accessToken: accessToken) else { return nil }
        return await SimulatedExport(snapshot)
    }

    /// The canonical file of an export (see ``SimulatedExport``) from `offset` (1-based), at most `limit` records:
    /// each record's JSON bytes followed by `\n`. Without touching the download state.
    public func canonicalRecords(accessToken: Int64, clientID: String, offset: Int64 = 1, limit: Int64) async -> [UInt8]? {
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

    /// Back to the configured scenarios, default scenario and host windows; clears records, per-token progress
    /// and the OAuth token-request count. Issued OAuth tokens stay valid; access tokens keep increasing.
    public func reset() async {
        state.reset()
    }

    /// Shuts the server down gracefully (idle connections closed, requests in flight get up to 3 s before
    /// they are cancelled) and waits until it has stopped. Idempotent.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
    }

    /// Waits until the server stops: after ``stop()``, or after SIGTERM/SIGINT when
    /// ``SimulatorConfiguration/stopsOnTerminationSignals`` is set.
    /// - Throws: the server's error when it failed rather than shut down.
    public func waitUntilStopped() async throws {
        try await running.value
    }
}

extension SimulatorAuth {
    /// `base64(HMAC-SHA256(key: secret as UTF-8, message: "{clientID}:{userID}:{issuedTimestamp}"))` —
    /// the PNAUTHINFO3 signature the simulator expects.
    public static func pnauthinfo3Signature(secret: String, clientID: String, userID: String, issuedTimestamp: String) -> String {
        Authenticator.signature(secret: secret, clientID: clientID, userID: userID, issuedTimestamp: issuedTimestamp)
    }
}

import Foundation
import Synchronization
import MprefCore

/// The simulator's mutable state behind one mutex. Every critical section is a few dictionary operations:
/// no I/O, no awaiting and no sleeping happens while the lock is held.
final class SimulatorState: Sendable {
    struct ScenarioKey: Hashable {
        var clientID: String?
        var accessToken: Int64
    }

    struct ProgressKey: Hashable {
        var clientID: String
        var accessToken: Int64
    }

    struct Progress {
        var stepIndex = 0
        var usesOfStep = 0
    }

    struct Window {
        var from: Date
        var to: Date
        var retryAfter: RetryAfter?
    }

    struct IssuedToken {
        var expiresAt: Date
        var clientID: String
    }

    struct Storage {
        var defaultScenario: Scenario
        var scenarios: [ScenarioKey: Scenario] = [:]
        var progress: [ProgressKey: Progress] = [:]
        /// Exports that have served a `Complete` status (see `SimulatorState+Exports.swift`).
        var exports: [ProgressKey: ExportProgress] = [:]
        /// Segment entries by name and client ID (see `SimulatorState+Segments.swift`).
        var segments: [SegmentKey: SegmentEntry] = [:]
        /// Exports created by initiate requests for a segment.
        var initiated: [ProgressKey: InitiatedExport] = [:]
        /// Every export created by an initiate request, oldest first (access tokens ascending).
        var initiations: [Initiation] = []
        var windows: [Window] = []
        var records: RequestRing
        /// API requests received, and those of them since answered, dropped or failed; never reset.
        var receivedRequests = 0
        var finishedRequests = 0
        /// Callers of ``waitForRequestsInFlight(_:)``: how many requests each waits for.
        var inFlightWaiters: [UUID: (count: Int, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextAccessToken: Int64
        var issuedTokens: [String: IssuedToken] = [:]
        var oauthTokenRequests = 0
        var port = 0
    }

    /// Internal (not private) so that the `SimulatorState+…` files share the one lock.
    let storage: Mutex<Storage>
    let firstAccessToken: Int64
    private let initialDefault: Scenario
    private let initialScenarios: [TokenScenario]
    private let initialWindows: [Window]
    private let initialSegments: [SegmentKey: SegmentEntry]
    let recordsRequests: Bool

    init(configuration: SimulatorConfiguration, startedAt: Date) {
        let book = configuration.scenarios
        self.initialDefault = book.defaultScenario ?? configuration.defaultScenario
        self.initialScenarios = book.scenarios
        self.initialWindows = (book.hostUnavailable ?? []).map {
            Window(
                from: startedAt + $0.from.secondsDouble, to: startedAt + $0.to.secondsDouble, retryAfter: $0.retryAfter)
        }
        var segments: [SegmentKey: SegmentEntry] = [:]
        for segment in book.segments {
            segments[SegmentKey(segment)] = SegmentEntry(segment: segment, loadedAt: startedAt)
        }
        self.initialSegments = segments
        self.recordsRequests = configuration.recordsRequests
        self.firstAccessToken = configuration.firstAccessToken
        var storage = Storage(
            defaultScenario: initialDefault,
            records: RequestRing(capacity: configuration.requestRecordLimit),
            nextAccessToken: configuration.firstAccessToken
        )
        for entry in initialScenarios {
            storage.scenarios[ScenarioKey(clientID: entry.clientID, accessToken: entry.accessToken)] = entry.scenario
        }
        storage.windows = initialWindows
        storage.segments = segments
        self.storage = Mutex(storage)
    }

    // MARK: Polling

    /// The step answering this poll of `accessToken` under `clientID`, advancing that token's progress.
    /// A (client ID, token) scenario wins over a token-only one, which wins over the default.
    ///
    /// Once the export is retrieved or has expired (see `SimulatorState+Exports.swift`), every poll gets
    /// `Retrieved` / `Expired` with the `Complete` answer's counts, and the scenario no longer advances.
    /// Serving a `Complete` status makes the export downloadable.
    ///
    /// A token created by an initiate request for a segment, and without a scenario of its own, answers
    /// from its export instead (`SimulatorState+Segments.swift`): `Processing` until it is ready at `now`.
    func nextStep(clientID: String, accessToken: Int64, now: Date) -> ScenarioStep {
        storage.withLock { s in
            let key = ProgressKey(clientID: clientID, accessToken: accessToken)
            if let export = s.exports[key], export.phase != .complete {
                return .status(export.phase.rawValue, rowCount: export.rowCount, byteCount: export.byteCount)
            }
            if let step = Self.initiatedStep(for: key, now: now, in: &s) {
                return step
            }
            let scenario = Self.scenario(for: key, in: s)
            let steps = scenario.steps.isEmpty ? Scenario.standard.steps : scenario.steps
            var progress = s.progress[key] ?? Progress()
            let index = min(progress.stepIndex, steps.count - 1)
            let step = steps[index]
            progress.usesOfStep += 1
            if index < steps.count - 1, progress.usesOfStep >= step.repeatCount {
                progress.stepIndex = index + 1
                progress.usesOfStep = 0
            }
            s.progress[key] = progress
            if case .status(ExportPhase.complete.rawValue, let rowCount, let byteCount, _) = step.answer,
                s.exports[key] == nil
            {
                let options = scenario.export ?? ExportOptions()
                s.exports[key] = ExportProgress(
                    records: ExportRecords(
                        count: rowCount, seed: options.seed, clientID: clientID, accessToken: accessToken),
                    byteCount: byteCount, options: options)
            }
            return step
        }
    }

    /// Whether `key`'s token has a scenario of its own: (client ID, token) or token only.
    static func hasOwnScenario(_ key: ProgressKey, in s: Storage) -> Bool {
        s.scenarios[ScenarioKey(clientID: key.clientID, accessToken: key.accessToken)] != nil
            || s.scenarios[ScenarioKey(clientID: nil, accessToken: key.accessToken)] != nil
    }

    /// The scenario in effect for `key`: (client ID, token), else token only, else the default.
    static func scenario(for key: ProgressKey, in s: Storage) -> Scenario {
        s.scenarios[ScenarioKey(clientID: key.clientID, accessToken: key.accessToken)]
            ?? s.scenarios[ScenarioKey(clientID: nil, accessToken: key.accessToken)]
            ?? s.defaultScenario
    }

    /// The window covering `now`, if the host is unavailable then.
    func hostWindow(at now: Date) -> Window? {
        storage.withLock { s in
            s.windows.first { $0.from <= now && now < $0.to }
        }
    }

    /// The next access token (under the lock held by the caller).
    static func allocateAccessToken(in s: inout Storage) -> Int64 {
        defer { s.nextAccessToken = s.nextAccessToken.incrementedSaturating }
        return s.nextAccessToken
    }

    // MARK: Scenarios at runtime

    /// Sets the scenario of `accessToken` (under `clientID`, or any client ID when nil) and restarts its progress.
    func setScenario(_ scenario: Scenario, accessToken: Int64, clientID: String?) {
        storage.withLock { s in
            Self.set(scenario, accessToken: accessToken, clientID: clientID, in: &s)
        }
    }

    private static func set(_ scenario: Scenario, accessToken: Int64, clientID: String?, in s: inout Storage) {
        s.scenarios[ScenarioKey(clientID: clientID, accessToken: accessToken)] = scenario
        if let clientID {
            s.progress[ProgressKey(clientID: clientID, accessToken: accessToken)] = nil
            s.exports[ProgressKey(clientID: clientID, accessToken: accessToken)] = nil
        } else {
            s.progress = s.progress.filter { $0.key.accessToken != accessToken }
            s.exports = s.exports.filter { $0.key.accessToken != accessToken }
        }
    }

    /// Merges a book: entries replace, `default` and `host_unavailable` replace when present
    /// (windows then count from `now`); a segment entry replaces the one with its name and client ID, and
    /// its dataset starts at `now`.
    func apply(_ book: ScenarioBook, now: Date) {
        storage.withLock { s in
            if let scenario = book.defaultScenario { s.defaultScenario = scenario }
            for entry in book.scenarios {
                Self.set(entry.scenario, accessToken: entry.accessToken, clientID: entry.clientID, in: &s)
            }
            for segment in book.segments {
                s.segments[SegmentKey(segment)] = SegmentEntry(segment: segment, loadedAt: now)
            }
            if let windows = book.hostUnavailable {
                s.windows = windows.map {
                    Window(from: now + $0.from.secondsDouble, to: now + $0.to.secondsDouble, retryAfter: $0.retryAfter)
                }
            }
        }
    }

    /// Back to the configured scenarios, default, windows and segments (their datasets keep the server start as
    /// *start*; their initiate faults start over); forgets progress, exports, initiated exports, initiations,
    /// records and the OAuth token-request count. Issued OAuth tokens stay valid and access tokens keep increasing.
    func reset() {
        storage.withLock { s in
            s.defaultScenario = initialDefault
            s.scenarios = [:]
            for entry in initialScenarios {
                s.scenarios[ScenarioKey(clientID: entry.clientID, accessToken: entry.accessToken)] = entry.scenario
            }
            s.windows = initialWindows
            s.segments = initialSegments
            s.initiated = [:]
            s.initiations = []
            s.progress = [:]
            s.exports = [:]
            s.records.removeAll()
            s.oauthTokenRequests = 0
        }
    }

    // MARK: OAuth

    func countOAuthTokenRequest() {
        storage.withLock { $0.oauthTokenRequests += 1 }
    }

    var oauthTokenRequests: Int {
        storage.withLock { $0.oauthTokenRequests }
    }

    func issue(token: String, clientID: String, expiresAt: Date, now: Date) {
        storage.withLock { s in
            // Keep the table small under benchmarks that fetch many tokens.
            if s.issuedTokens.count >= 10_000 {
                s.issuedTokens = s.issuedTokens.filter { $0.value.expiresAt > now }
            }
            s.issuedTokens[token] = IssuedToken(expiresAt: expiresAt, clientID: clientID)
        }
    }

    func issuedToken(_ token: String) -> IssuedToken? {
        storage.withLock { $0.issuedTokens[token] }
    }

    // MARK: Records

    func record(_ request: RecordedRequest) {
        guard recordsRequests else { return }
        storage.withLock { $0.records.append(request) }
    }

    var records: [RecordedRequest] {
        storage.withLock { $0.records.inOrder }
    }

    /// Counts a received request, and wakes the waiters of ``waitForRequestsInFlight(_:)`` it satisfies.
    func countReceivedRequest() {
        let woken = storage.withLock { s in
            s.receivedRequests += 1
            let inFlight = s.receivedRequests - s.finishedRequests
            let ready = s.inFlightWaiters.filter { $0.value.count <= inFlight }
            for id in ready.keys { s.inFlightWaiters[id] = nil }
            return ready.values.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Returns once at least `count` requests are in flight at the same time (at once if they are
    /// already), or once the calling task is cancelled.
    func waitForRequestsInFlight(_ count: Int) async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let isReady = storage.withLock { s in
                    guard s.receivedRequests - s.finishedRequests < count, !Task.isCancelled else { return true }
                    s.inFlightWaiters[id] = (count, continuation)
                    return false
                }
                if isReady { continuation.resume() }
            }
        } onCancel: {
            storage.withLock { $0.inFlightWaiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }

    /// Counts a received request as answered, dropped or failed: no longer in flight.
    func countFinishedRequest() {
        storage.withLock { $0.finishedRequests += 1 }
    }

    /// API requests received and not yet answered (or dropped).
    var requestsInFlight: Int {
        storage.withLock { $0.receivedRequests - $0.finishedRequests }
    }

    var recordCount: Int {
        storage.withLock { $0.records.count }
    }

    func clearRecords() {
        storage.withLock { $0.records.removeAll() }
    }

    var port: Int {
        get { storage.withLock { $0.port } }
        set { storage.withLock { $0.port = newValue } }
    }
}

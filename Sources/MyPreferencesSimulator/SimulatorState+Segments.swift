import Foundation
import MprefCore
import Synchronization

/// A segment entry's key: its name and client ID (nil: every client ID).
struct SegmentKey: Hashable {
    var name: String
    var clientID: String?

    init(name: String, clientID: String?) {
        self.name = name
        self.clientID = clientID
    }

    init(_ segment: SegmentScenario) {
        self.init(name: segment.name, clientID: segment.clientID)
    }
}

/// A segment entry in effect: its definition, when it was loaded (its dataset's *start*) and how many of
/// its initiate faults have been used.
struct SegmentEntry {
    var segment: SegmentScenario
    var loadedAt: Date
    var faultsUsed = 0

    /// The change times of its dataset.
    var timeline: SegmentTimeline {
        SegmentTimeline(
            baseRecords: segment.records, startMilliseconds: WallClock.milliseconds(loadedAt),
            historyMilliseconds: segment.history.wholeMilliseconds, changesPerSecond: segment.changesPerSecond)
    }
}

/// An export created by an initiate request for a segment, per client ID and access token.
struct InitiatedExport {
    /// The records it holds, fixed at the initiate.
    var records: ExportRecords
    /// When it becomes `Complete`: the initiate time plus the segment's processing time.
    var readyAt: Date
    /// The segment's download options.
    var options: ExportOptions
    /// The canonical file's size, computed (outside the lock) once it is ready; nil before.
    var byteCount: Int64?
    /// The callback to send once it is ready, when the initiate carried `CallbackURL`; nil otherwise.
    var callback: PlannedCallback?
}

/// A callback the simulator owes an initiated export: POST its status to `url` at `readyAt + delay`,
/// unless `isDropped` (the segment's `callback_failure_rate` drew a lost callback).
struct PlannedCallback: Sendable {
    var clientID: String
    var accessToken: Int64
    var url: String
    var readyAt: Date
    var delay: Duration
    var isDropped: Bool
    var records: ExportRecords
}

extension SimulatorState {
    /// Most initiations kept for ``MyPreferencesSimulator/initiations()``; older ones are dropped first.
    static let initiationLimit = 100_000

    enum InitiateDecision: Equatable {
        /// Segments are configured, but none for this client ID (nor one for every client ID).
        case unknownClient
        /// No segment of that name for this client ID.
        case unknownSegment
        /// A fault that answers without creating an export.
        case refused(InitiateFault)
        /// An export was created; `fault`, when set, says how (not) to answer.
        case created(accessToken: Int64, fault: InitiateFault?)
    }

    /// Decides an initiate request of `clientID` for `segmentName` with body `request` at `now`, and records
    /// its effects in one critical section: the fault used, the access token allocated, the export planned
    /// (an index range of the segment's dataset — or, for `MatchCriteria: ProfileId`, the few positions of
    /// `Values` inside it) and the initiation. While no segment is configured, every request creates a token
    /// that follows its scenario, as before segments existed.
    func initiate(clientID: String, segmentName: String, request: InitiateRequest, now: Date) -> InitiateDecision {
        storage.withLock { s in
            guard !s.segments.isEmpty else {
                let accessToken = Self.allocateAccessToken(in: &s)
                Self.append(
                    Initiation(
                        clientID: clientID, segment: segmentName, accessToken: accessToken,
                        lastDateTime: request.lastDateTime,
                        callbackURL: request.callbackURL, matchCriteria: request.matchCriteria?.rawValue,
                        receivedAt: now, answered: true, records: nil),
                    in: &s)
                return .created(accessToken: accessToken, fault: nil)
            }
            guard s.segments.keys.contains(where: { $0.clientID == nil || $0.clientID == clientID }) else {
                return .unknownClient
            }
            let own = SegmentKey(name: segmentName, clientID: clientID)
            let key = s.segments[own] != nil ? own : SegmentKey(name: segmentName, clientID: nil)
            guard var entry = s.segments[key] else { return .unknownSegment }

            var fault: InitiateFault?
            if entry.faultsUsed < entry.segment.initiateFaults.count {
                fault = entry.segment.initiateFaults[entry.faultsUsed]
                entry.faultsUsed += 1
                s.segments[key] = entry
            }
            if let fault, !fault.createsExport { return .refused(fault) }

            let accessToken = Self.allocateAccessToken(in: &s)
            let records = Self.plannedRecords(of: entry, clientID: clientID, request: request, now: now)
            let readyAt = WallClock.adding(entry.segment.processingTime(forAccessToken: accessToken), to: now)
            s.initiated[ProgressKey(clientID: clientID, accessToken: accessToken)] = InitiatedExport(
                records: records,
                readyAt: readyAt,
                options: entry.segment.export ?? ExportOptions(),
                callback: request.callbackURL.map { url in
                    PlannedCallback(
                        clientID: clientID, accessToken: accessToken, url: url, readyAt: readyAt,
                        delay: entry.segment.callbackDelay,
                        isDropped: entry.segment.dropsCallback(forAccessToken: accessToken), records: records)
                })
            Self.append(
                Initiation(
                    clientID: clientID, segment: segmentName, accessToken: accessToken,
                    lastDateTime: request.lastDateTime,
                    callbackURL: request.callbackURL, matchCriteria: request.matchCriteria?.rawValue,
                    receivedAt: now, answered: fault == nil, records: records.count, readyAt: readyAt),
                in: &s)
            return .created(accessToken: accessToken, fault: fault)
        }
    }

    /// The records of an export of `entry` initiated at `now`: those changed in [LastDateTime′, now) —
    /// LastDateTime′ being the body's `LastDateTime` rounded as the vendor documents, or the beginning of
    /// time without one — in change-time order; with `MatchCriteria: ProfileId`, only those whose ProfileId
    /// is in `Values` (non-numeric values match nothing). Other criteria do not filter.
    static func plannedRecords(of entry: SegmentEntry, clientID: String, request: InitiateRequest, now: Date)
        -> ExportRecords
    {
        let timeline = entry.timeline
        let last = timeline.recordsChanged(before: WallClock.milliseconds(now))
        let first =
            request.lastDateTimeMilliseconds.map {
                timeline.recordsChanged(before: LastDateTime.vendorRounded(milliseconds: $0)).incrementedSaturating
            } ?? 1
        let selection: ExportRecords.Selection
        if request.matchCriteria == .profileID {
            let positions = Set(request.values.compactMap { Int64($0).flatMap(ExportRecords.position(ofProfileID:)) })
            selection = .positions(positions.filter { first <= $0 && $0 <= last }.sorted())
        } else {
            selection = .range(first: first, count: max(0, last.subtractingSaturating(first).incrementedSaturating))
        }
        return ExportRecords(
            segmentNamed: entry.segment.name, clientID: clientID, seed: entry.segment.seed, timeline: timeline,
            selection: selection)
    }

    private static func append(_ initiation: Initiation, in s: inout Storage) {
        s.initiations.append(initiation)
        if s.initiations.count > initiationLimit {
            s.initiations.removeFirst(s.initiations.count - initiationLimit)
        }
    }

    /// The callback owed to the initiated export of `accessToken` under `clientID`, if its initiate asked for one.
    func plannedCallback(clientID: String, accessToken: Int64) -> PlannedCallback? {
        storage.withLock { $0.initiated[ProgressKey(clientID: clientID, accessToken: accessToken)]?.callback }
    }

    /// Marks the initiation of `accessToken` answered (after a `delay_s` fault).
    func markAnswered(accessToken: Int64) {
        storage.withLock { s in
            if let index = s.initiations.lastIndex(where: { $0.accessToken == accessToken }) {
                s.initiations[index].answered = true
            }
        }
    }

    /// Every initiation kept, oldest first.
    var initiations: [Initiation] {
        storage.withLock { $0.initiations }
    }

    // MARK: Status and download of an initiated export

    /// The records of `key`'s initiated export when it is ready at `now` but its byte count is not yet known
    /// (and the token has no scenario of its own): the caller computes it outside the lock and hands it to
    /// ``cacheByteCount(_:clientID:accessToken:)``. nil otherwise.
    func initiatedExportAwaitingByteCount(clientID: String, accessToken: Int64, now: Date) -> ExportRecords? {
        storage.withLock { s in
            let key = ProgressKey(clientID: clientID, accessToken: accessToken)
            guard !Self.hasOwnScenario(key, in: s), let initiated = s.initiated[key],
                initiated.byteCount == nil, now >= initiated.readyAt
            else { return nil }
            return initiated.records
        }
    }

    /// Remembers the canonical byte count of `key`'s initiated export (the first value stored wins).
    func cacheByteCount(_ byteCount: Int64, clientID: String, accessToken: Int64) {
        storage.withLock { s in
            let key = ProgressKey(clientID: clientID, accessToken: accessToken)
            if s.initiated[key] != nil, s.initiated[key]?.byteCount == nil {
                s.initiated[key]?.byteCount = byteCount
            }
        }
    }

    /// The status answer of an initiated export (for a token without a scenario of its own): `Processing`
    /// with zero counts until it is ready at `now` (and its byte count is known), then `Complete` with its
    /// record count and canonical byte count — which makes it downloadable. nil when `key` is not such a token.
    static func initiatedStep(for key: ProgressKey, now: Date, in s: inout Storage) -> ScenarioStep? {
        guard !hasOwnScenario(key, in: s), let initiated = s.initiated[key] else { return nil }
        guard makeInitiatedExportDownloadable(key, now: now, in: &s), let byteCount = initiated.byteCount else {
            return .status("Processing")
        }
        return .status(ExportPhase.complete.rawValue, rowCount: initiated.records.count, byteCount: byteCount)
    }

    /// Creates the download state of `key`'s initiated export once it is ready at `now` and its byte count is
    /// known; returns whether the export is downloadable (or was, before being retrieved or expiring).
    @discardableResult
    static func makeInitiatedExportDownloadable(_ key: ProgressKey, now: Date, in s: inout Storage) -> Bool {
        if s.exports[key] != nil { return true }
        guard !hasOwnScenario(key, in: s), let initiated = s.initiated[key], now >= initiated.readyAt,
            let byteCount = initiated.byteCount
        else { return false }
        s.exports[key] = ExportProgress(records: initiated.records, byteCount: byteCount, options: initiated.options)
        return true
    }
}

extension SegmentScenario {
    /// Whether the callback of the export with `accessToken` is lost: a uniform draw in [0, 1) from a
    /// SplitMix64 seeded by (``seed``, access token) — other than the duration's — below
    /// ``callbackFailureRate``. The same export always draws the same.
    func dropsCallback(forAccessToken accessToken: Int64) -> Bool {
        guard callbackFailureRate > 0 else { return false }
        var rng = SplitMix64(
            state: seed ^ 0x5CA1_1BAC_CA11_BAC5 ^ (UInt64(bitPattern: accessToken) &* 0x9E37_79B9_7F4A_7C15))
        let draw = Double(rng.next() >> 11) / 9_007_199_254_740_992.0
        return draw < callbackFailureRate
    }

    /// How long the export with `accessToken` stays `Processing`: the fixed time, or a log-normal draw
    /// `median · exp(sigma · Z)` with Z from Box–Muller over a SplitMix64 seeded by (``seed``, access token) —
    /// the same export always gets the same duration. At most ten years.
    func processingTime(forAccessToken accessToken: Int64) -> Duration {
        switch processing {
        case .fixed(let duration):
            return duration
        case .logNormal(let median, let sigma):
            var rng = SplitMix64(state: seed ^ (UInt64(bitPattern: accessToken) &* 0xD1B5_4A32_D192_ED03))
            let unit = 1.0 / 9_007_199_254_740_992.0  // 2^-53
            let u1 = (Double(rng.next() >> 11) + 1) * unit  // (0, 1]
            let u2 = Double(rng.next() >> 11) * unit  // [0, 1)
            let z = (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
            let seconds = min(median.secondsDouble * Foundation.exp(sigma * z), Self.longestSeconds)
            return .milliseconds(Int64(saturating: (seconds * 1000).rounded()))
        }
    }
}

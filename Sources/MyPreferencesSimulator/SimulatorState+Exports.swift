import Foundation
import MprefCore
import Synchronization

/// Where an export stands once its token has served a `Complete` status.
enum ExportPhase: String, Sendable {
    /// Downloadable.
    case complete = "Complete"
    /// The last page was served without `keepAlive=true`, or the export was committed.
    case retrieved = "Retrieved"
    /// `expire_after_pages` pages were served before it was retrieved.
    case expired = "Expired"
}

/// One export's download state, per client ID and access token, created when a `Complete` status is served
/// (or, for an initiated export, once it is ready and is polled, retrieved or committed).
struct ExportProgress {
    /// The export's records: as many as the `RowCount` of the first `Complete` answer served (negative
    /// counts as 0), or an initiated export's selection of its segment's dataset.
    var records: ExportRecords
    /// The `ByteCount` of that answer, repeated in `Retrieved`/`Expired` answers.
    var byteCount: Int64
    /// The scenario's download options, fixed when the export became `Complete`.
    var options: ExportOptions
    var phase: ExportPhase = .complete
    var isCommitted = false
    /// The `keepFiles` value of the last commit (nil: never committed, or sent without it).
    var keepFiles: Bool?
    /// 200 page answers served, faulty bodies (`reset`, `slow`, `short`, `wrong_total`) included.
    var pagesServed = 0
    /// Records in those answers (what `Count` said; a short page's missing record included).
    var recordsServed: Int64 = 0
    /// Uses of each `options.pages` entry so far.
    var faultUses: [Int]

    init(records: ExportRecords, byteCount: Int64, options: ExportOptions) {
        self.records = records
        self.byteCount = byteCount
        self.options = options
        self.faultUses = Array(repeating: 0, count: options.pages.count)
    }

    /// Records in the export (`RowCount`, `TotalResults`).
    var rowCount: Int64 { records.count }
}

/// An export as the control endpoint reports it.
struct ExportSnapshot: Sendable {
    var records: ExportRecords
    /// nil: no `Complete` status served yet (the counts come from the scenario's first `Complete` step).
    var phase: ExportPhase?
    var isCommitted: Bool
    var keepFiles: Bool?
    var pagesServed: Int
    var recordsServed: Int64 = 0
}

extension SimulatorState {
    enum PageDecision {
        /// The token was never handed out, scripted or polled under this client ID.
        case unknownToken
        /// No `Complete` status has been served for it yet.
        case notComplete
        case alreadyRetrieved
        case expired
        /// A fault that replaces the page (nothing served).
        case fault(PageFault.Kind)
        case page(ExportPage)
    }

    enum CommitDecision {
        case unknownToken, notComplete, expired, committed
    }

    /// Decides the answer to a page request and records its effects: fault uses, pages served, and the
    /// move to `Retrieved` (last page without `keepAlive`) or `Expired` (`expire_after_pages` reached).
    /// An initiated export ready at `now` becomes downloadable here if no poll has made it so.
    func servePage(clientID: String, accessToken: Int64, offset: Int64, limit: Int64, keepAlive: Bool, now: Date)
        -> PageDecision
    {
        storage.withLock { s in
            let key = ProgressKey(clientID: clientID, accessToken: accessToken)
            Self.makeInitiatedExportDownloadable(key, now: now, in: &s)
            guard var export = s.exports[key] else {
                return isKnown(key, in: s) ? .notComplete : .unknownToken
            }
            switch export.phase {
            case .retrieved: return .alreadyRetrieved
            case .expired: return .expired
            case .complete: break
            }
            var fault: PageFault.Kind?
            if let index = export.options.pages.indices.first(where: {
                export.options.pages[$0].offset == offset && export.faultUses[$0] < export.options.pages[$0].times
            }) {
                export.faultUses[index] += 1
                fault = export.options.pages[index].kind
            }
            defer { s.exports[key] = export }
            if let fault, fault.replacesPage {
                return .fault(fault)
            }
            let page = ExportPage(
                records: export.records, offset: offset, limit: limit, options: export.options, fault: fault)
            export.pagesServed = export.pagesServed.incrementedSaturating
            export.recordsServed = export.recordsServed.addingSaturating(page.count)
            if !keepAlive && page.reachesEnd {
                export.phase = .retrieved
            } else if let pages = export.options.expireAfterPages, export.pagesServed >= pages {
                export.phase = .expired
            }
            return .page(page)
        }
    }

    /// Commits an export: `Retrieved`, committed, `keepFiles` remembered. Idempotent on a retrieved export.
    /// An initiated export ready at `now` can be committed without having been polled.
    func commit(clientID: String, accessToken: Int64, keepFiles: Bool?, now: Date) -> CommitDecision {
        storage.withLock { s in
            let key = ProgressKey(clientID: clientID, accessToken: accessToken)
            Self.makeInitiatedExportDownloadable(key, now: now, in: &s)
            guard var export = s.exports[key] else {
                return isKnown(key, in: s) ? .notComplete : .unknownToken
            }
            if export.phase == .expired { return .expired }
            export.phase = .retrieved
            export.isCommitted = true
            export.keepFiles = keepFiles
            s.exports[key] = export
            return .committed
        }
    }

    /// The export of `accessToken` under `clientID`: its download state once `Complete` was served, else
    /// the records of the initiated export (when the token has no scenario of its own), else the records its
    /// scenario's first `Complete` step promises; nil when the scenario has none.
    func exportSnapshot(clientID: String, accessToken: Int64) -> ExportSnapshot? {
        storage.withLock { s in
            let key = ProgressKey(clientID: clientID, accessToken: accessToken)
            if let export = s.exports[key] {
                return ExportSnapshot(
                    records: export.records,
                    phase: export.phase, isCommitted: export.isCommitted, keepFiles: export.keepFiles,
                    pagesServed: export.pagesServed,
                    recordsServed: export.recordsServed
                )
            }
            if !Self.hasOwnScenario(key, in: s), let initiated = s.initiated[key] {
                return ExportSnapshot(
                    records: initiated.records, phase: nil, isCommitted: false, keepFiles: nil, pagesServed: 0)
            }
            let scenario = Self.scenario(for: key, in: s)
            let steps = scenario.steps.isEmpty ? Scenario.standard.steps : scenario.steps
            for step in steps {
                if case .status(ExportPhase.complete.rawValue, let rowCount, _, _) = step.answer {
                    let records = ExportRecords(
                        count: rowCount, seed: (scenario.export ?? ExportOptions()).seed, clientID: clientID,
                        accessToken: accessToken)
                    return ExportSnapshot(
                        records: records, phase: nil, isCommitted: false, keepFiles: nil, pagesServed: 0)
                }
            }
            return nil
        }
    }

    /// A token is known under a client ID once handed out by initiate, scripted, or polled under it.
    private func isKnown(_ key: ProgressKey, in s: Storage) -> Bool {
        s.progress[key] != nil
            || s.scenarios[ScenarioKey(clientID: key.clientID, accessToken: key.accessToken)] != nil
            || s.scenarios[ScenarioKey(clientID: nil, accessToken: key.accessToken)] != nil
            || (firstAccessToken <= key.accessToken && key.accessToken < s.nextAccessToken)
    }
}

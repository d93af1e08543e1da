import MprefCore

/// Where an export stands once its token has served a `Complete` status.
enum ExportPhase: String, Sendable {
    /// Downloadable.
    case complete = "Complete"
    /// The last page was served without `keepAlive=true`, or the export was committed.
    case retrieved = "Retrieved"
    /// `expire_after_pages` pages were served before it was retrieved.
    case expired = "Expired"
}

/// One export's download state, per client ID and access token, created when a `Complete` status is served.
struct ExportProgress {
    /// Records in the export: the `RowCount` of the first `Complete` answer served (negative counts as 0).
    var rowCount: Int64
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
    /// Uses of each `options.pages` entry so far.
    var faultUses: [Int]

    init(rowCount: Int64, byteCount: Int64, options: ExportOptions) {
        self.rowCount = rowCount
        self.byteCount = byteCount
        self.options = options
        self.faultUses = Array(repeating: 0, count: options.pages.count)
    }
}

/// An export as the control endpoint reports it.
struct ExportSnapshot: Sendable {
    var records: ExportRecords
    /// nil: no `Complete` status served yet (the counts come from the scenario's first `Complete` step).
    var phase: ExportPhase?
    var isCommitted: Bool
    var keepFiles: Bool?
    var pagesServed: Int
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
    func servePage(clientID: String, accessToken: Int64, offset: Int64, limit: Int64, keepAlive: Bool) -> PageDecision {
        storage.withLock { s in
            let key = ProgressKey(clientID: clientID, accessToken: accessToken)
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
            let records = ExportRecords(count: export.rowCount, seed: export.options.seed, clientID: clientID, accessToken: accessToken)
            let page = ExportPage(records: records, offset: offset, limit: limit, options: export.options, fault: fault)
            export.pagesServed = export.pagesServed.incrementedSaturating
            if !keepAlive && page.reachesEnd {
                export.phase = .retrieved
            } else if let pages = export.options.expireAfterPages, export.pagesServed >= pages {
                export.phase = .expired
            }
            return .page(page)
        }
    }

    /// Commits an export: `Retrieved`, committed, `keepFiles` remembered. Idempotent on a retrieved export.
    func commit(clientID: String, accessToken: Int64, keepFiles: Bool?) -> CommitDecision {
        storage.withLock { s in
            let key = ProgressKey(clientID: clientID, accessToken: accessToken)
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
    /// the records its scenario's first `Complete` step promises; nil when the scenario has none.
    func exportSnapshot(clientID: String, accessToken: Int64) -> ExportSnapshot? {
        storage.withLock { s in
            let key = ProgressKey(clientID: clientID, accessToken: accessToken)
            if let export = s.exports[key] {
                return ExportSnapshot(
                    records: ExportRecords(count: export.rowCount, seed: export.options.seed, clientID: clientID, accessToken: accessToken),
                    phase: export.phase, isCommitted: export.isCommitted, keepFiles: export.keepFiles, pagesServed: export.pagesServed
                )
            }
            let scenario = Self.scenario(for: key, in: s)
            let steps = scenario.steps.isEmpty ? Scenario.standard.steps : scenario.steps
            for step in steps {
                if case .status(ExportPhase.complete.rawValue, let rowCount, _, _) = step.answer {
                    let records = ExportRecords(
                        count: rowCount, seed: (scenario.export ?? ExportOptions()).seed, clientID: clientID, accessToken: accessToken)
                    return ExportSnapshot(records: records, phase: nil, isCommitted: false, keepFiles: nil, pagesServed: 0)
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

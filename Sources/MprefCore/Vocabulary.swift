/// mprefd's vocabulary as types: each enum's raw values are exactly the `CHECK` list of its column in
/// `migrations/` (`Tests/MprefStoreTests/VocabularyTests.swift` compares them), and every target —
/// store, client, worker, CLI — uses these instead of strings.

/// A host or account pause: the `pauses.scope` and `pause_lifts.scope` columns.
package enum PauseScope: String, Codable, Sendable, CaseIterable {
    /// A 503/429 paused every token of one `scheme://host:port`.
    case host
    /// A 401/403 (or an account-wide 404) paused every token of one client ID.
    case account
}

/// Where a hook run stands: the `hook_runs.state` column.
/// `pending → running → succeeded | failed (retried) | dead (gave up)`.
package enum HookRunState: String, Codable, Sendable, CaseIterable {
    case pending, running, succeeded, failed, dead
}

/// The event a hook run is for: the `hook_runs.event` column and `MPREFD_EVENT`.
package enum HookEvent: String, Codable, Sendable, CaseIterable {
    case complete, failed
    case downloadFailed = "download_failed"
    case expired, retrieved
    case timedOut = "timed_out"
    /// Not a state: the daemon raised the `stuck` warning of an export still processing far beyond
    /// its segment's usual duration (`polling.stuck_factor`); the token keeps being watched.
    case stuck

    /// The event of a terminal state; `nil` for the others.
    package init?(_ state: TokenState) {
        switch state {
        case .complete: self = .complete
        case .failed: self = .failed
        case .downloadFailed: self = .downloadFailed
        case .expired: self = .expired
        case .retrieved: self = .retrieved
        case .timedOut: self = .timedOut
        case .watching, .paused, .downloading, .removed: return nil
        }
    }

    /// Which configured hooks run for it (`hooks.on_<trigger>`, `add-token --on-<trigger>`).
    package var trigger: HookTrigger {
        switch self {
        case .complete: .complete
        case .failed, .downloadFailed, .timedOut: .failure
        case .expired: .expired
        case .retrieved: .retrieved
        case .stuck: .stuck
        }
    }
}

/// The key of a hook list: `hooks.on_complete` … and the `token_hooks.on_event` column.
package enum HookTrigger: String, Codable, Sendable, CaseIterable {
    case complete, failure, expired, retrieved, stuck
}

/// Where a download stands: the `downloads.phase` column.
package enum DownloadPhase: String, Codable, Sendable, CaseIterable {
    /// Pages are being fetched into `<file>.partial`.
    case fetching
    /// Every record is stored and verified, the file renamed; the commit request is next.
    case committing
    /// Committed: the export is delivered.
    case committed
    /// Gave up (the token is `download_failed`).
    case failed
    /// The export vanished mid-download (the token is `expired`); the `.partial` file is kept.
    case expired
}

/// What one request (status poll, page, commit) came to, as history records it: the `polls.outcome`
/// and `download_requests.outcome` columns, the `outcome` label of the metrics. The case of the
/// client's `RequestOutcome`, without its payload.
package enum OutcomeKind: String, Codable, Sendable, CaseIterable {
    case ok, unavailable
    case serverError = "server_error"
    case badRequest = "bad_request"
    case unauthorized, forbidden
    case notFound = "not_found"
    case unexpectedStatus = "unexpected_status"
    case transportError = "transport_error"
    case undecodable
}

/// Where one `mprefd export` stands: the `exports.state` column.
///
/// `sending` (the attempt is recorded; the initiate request is being sent) → `started` (the answer's
/// access token is stored and watched) | `refused` (the server answered that it started nothing:
/// 400/401/403/404, or 503/no connection until the command gave up) | `unknown` (the request may have
/// started an export whose token never arrived: a timeout, a reset, a 5xx, an unreadable answer).
/// A `sending` row whose command is gone (a crash, `kill -9`) is as unknown as `unknown`; an operator
/// settles both with `mprefd export --resolve ID TOKEN` (→ `started`) or `--abandon ID` (→ `abandoned`).
package enum ExportState: String, Codable, Sendable, CaseIterable {
    case sending, started, unknown, refused, abandoned

    /// Whether the export may exist on the server without mprefd knowing its access token.
    package var isUnsettled: Bool { self == .sending || self == .unknown }
}

/// Who last moved a segment's incremental cursor: the `cursors.set_by` column.
package enum CursorSource: String, Codable, Sendable, CaseIterable {
    /// A delivered export of the segment (its download committed, or complete with download off).
    case delivery
    /// `mprefd cursors reset`.
    case reset
}

/// Where a watched access token stands: the `tokens.state` column.
package enum TokenState: String, Codable, Sendable, CaseIterable {
    /// Being polled.
    case watching
    /// Not polled until `mprefd resume`.
    case paused
    /// `Status` was `Complete` and the account (or the token) downloads: its pages are being
    /// fetched, verified and committed (the `downloads` row holds the progress).
    case downloading
    /// Terminal: `Status` was `Complete` (with download on: once the file is verified and committed).
    case complete
    /// Terminal: `Status` was `Error` or `Failed`, or the API refused the token (400, repeated 404).
    case failed
    /// Terminal: the download gave up (a count mismatch, or `download.max_attempts` failed requests
    /// in a row); `mprefd download --retry` re-arms it from its checkpoint.
    case downloadFailed = "download_failed"
    /// Terminal: `Status` was `Expired` (or the export vanished mid-download).
    case expired
    /// Terminal: `Status` was `Retrieved`.
    case retrieved
    /// Terminal: still processing at its deadline.
    case timedOut = "timed_out"
    /// Removed with `mprefd remove`; its history is kept.
    case removed

    /// States in which the export will not change any more (polling has stopped for good).
    package var isTerminal: Bool {
        switch self {
        case .complete, .failed, .downloadFailed, .expired, .retrieved, .timedOut: true
        case .watching, .paused, .downloading, .removed: false
        }
    }

    /// States in which the daemon sends requests for the token: status polls (`watching`) or
    /// page and commit requests (`downloading`).
    package var isActive: Bool { self == .watching || self == .downloading }

    /// The comma-separated list of values, for error messages and `--help`.
    package static var allowedValues: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

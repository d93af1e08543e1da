/// Where a watched access token stands: the `tokens.state` column.
public enum TokenState: String, Codable, Sendable, CaseIterable {
    /// Being polled.
    case watching
    /// Not polled until `mprefd resume`.
    case paused
    /// Terminal: `Status` was `Complete`.
    case complete
    /// Terminal: `Status` was `Error` or `Failed`, or the API refused the token (400, repeated 404).
    case failed
    /// Terminal: `Status` was `Expired`.
    case expired
    /// Terminal: `Status` was `Retrieved`.
    case retrieved
    /// Terminal: still processing at its deadline.
    case timedOut = "timed_out"
    /// Removed with `mprefd remove`; its history is kept.
    case removed

    /// States in which the export will not change any more (polling has stopped for good).
    public var isTerminal: Bool {
        switch self {
        case .complete, .failed, .expired, .retrieved, .timedOut: true
        case .watching, .paused, .removed: false
        }
    }

    /// The comma-separated list of values, for error messages and `--help`.
    public static var allowedValues: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

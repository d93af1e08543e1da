/// `log.format`: how the daemon writes its log lines to stderr.
enum LogFormat: String, Sendable, CaseIterable {
    /// `ts=… level=info msg="poll recorded" export.access_token=42`.
    case logfmt
    /// One JSON object per line.
    case json
}

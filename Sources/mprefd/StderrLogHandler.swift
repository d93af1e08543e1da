import Foundation
import Logging
import MprefStore
import Synchronization

/// A swift-log handler writing one line per event to stderr, as `logfmt` or JSON.
///
/// logfmt: `ts=2026-11-29T19:00:00.123Z level=info msg="poll recorded" export.access_token=42`;
/// a value is quoted (with `\"`, `\\`, `\n` escapes) when it is empty or contains a space, a quote,
/// `=` or a control character. JSON: `{"ts":"…","level":"info","msg":"poll recorded","export.access_token":"42"}` (metadata
/// arrays and dictionaries as JSON arrays and objects, every scalar as a string).
/// Metadata keys are sorted; `source` is added when it is not `mprefd`. Timestamps are UTC with
/// milliseconds. Each line is written with one `write(2)`, so lines from concurrent tasks do not interleave.
///
/// Bootstrap it once, early in `run`:
/// ```swift
/// StderrLogHandler.bootstrap(level: configuration.logLevel, format: configuration.logFormat)
/// ```
struct StderrLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    var metadataProvider: Logger.MetadataProvider?
    let label: String
    let format: LogFormat

    init(label: String, level: Logger.Level, format: LogFormat, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.metadataProvider = metadataProvider
    }

    /// Makes every `Logger` created afterwards write to stderr at `level` in `format`.
    static func bootstrap(level: Logger.Level, format: LogFormat) {
        LoggingSystem.bootstrap { label in
            StderrLogHandler(label: label, level: level, format: format)
        }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error, merged["error"] == nil { merged["error"] = "\(error)" }
        if event.source != "mprefd", merged["source"] == nil { merged["source"] = .string(event.source) }
        let line = Self.format(
            timestamp: Timestamp.format(Date()), level: event.level, message: event.message.description,
            metadata: merged, format: format)
        Self.writeToStderr(line + "\n")
    }

    /// One log line without its newline (pure, for tests).
    static func format(timestamp: String, level: Logger.Level, message: String, metadata: Logger.Metadata, format: LogFormat) -> String {
        let pairs = metadata.sorted { $0.key < $1.key }.map { ($0.key, flatten($0.value)) }
        switch format {
        case .logfmt:
            var parts = ["ts=\(timestamp)", "level=\(level.rawValue)", "msg=\(logfmtValue(message))"]
            for (key, value) in pairs { parts.append("\(logfmtKey(key))=\(logfmtValue(value))") }
            return parts.joined(separator: " ")
        case .json:
            var parts = ["\"ts\":\(jsonString(timestamp))", "\"level\":\(jsonString(level.rawValue))", "\"msg\":\(jsonString(message))"]
            for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where !["ts", "level", "msg"].contains(key) {
                parts.append("\(jsonString(key)):\(jsonValue(value))")
            }
            return "{" + parts.joined(separator: ",") + "}"
        }
    }

    private static func flatten(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let items): "[" + items.map(flatten).joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            "{" + dictionary.sorted { $0.key < $1.key }.map { "\($0.key)=\(flatten($0.value))" }.joined(separator: ",") + "}"
        }
    }

    /// A key with spaces, quotes or `=` replaced by `_` (logfmt keys are never quoted).
    private static func logfmtKey(_ key: String) -> String {
        String(key.map { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline ? "_" : $0 })
    }

    /// `value` bare, or quoted and escaped when it is empty or has a space, quote, `=` or control character.
    static func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains {
            $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || $0.value < 0x20 || $0.value == 0x7F
        }
        return needsQuotes ? ConfigValueReader.quote(value) : value
    }

    /// Strings as JSON strings, arrays as arrays, dictionaries as objects.
    private static func jsonValue(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text): jsonString(text)
        case .stringConvertible(let convertible): jsonString(convertible.description)
        case .array(let items): "[" + items.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            "{" + dictionary.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonValue($0.value))" }.joined(separator: ",") + "}"
        }
    }

    private static func jsonString(_ value: String) -> String {
        ConfigValueReader.quote(value)
    }

    /// Log lines that could not be written (stderr closed, or a pipe whose reader went away:
    /// EPIPE, as SIGPIPE is ignored by `mprefd run`); they are dropped, never retried.
    static var droppedLines: UInt64 { dropped.load(ordering: .relaxed) }
    private static let dropped = Atomic<UInt64>(0)

    private static func writeToStderr(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer in
                write(STDERR_FILENO, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written > 0 {
                offset += written
            } else if written < 0, errno == EINTR {
                continue
            } else {
                // Counted here, exported by the metrics endpoint at scrape time (see MprefMetrics.logLinesDroppedTotal).
                dropped.add(1, ordering: .relaxed)
                return
            }
        }
    }
}

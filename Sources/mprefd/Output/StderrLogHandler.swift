import Foundation
import MprefCore
import Logging
import MprefStore
import Synchronization

/// A swift-log handler writing one line per event to stderr, as `logfmt` or JSON.
///
/// logfmt: `ts=2026-11-29T19:00:00.123Z level=info msg="poll recorded" export.access_token=42`;
/// a value is quoted (with `\"`, `\\`, `\n` escapes) when it is empty or contains a space, a quote,
/// `=` or a control character. JSON: `{"ts":"…","level":"info","msg":"poll recorded","export.access_token":42}` (metadata
/// arrays and dictionaries as JSON arrays and objects; a value that is a number or `true`/`false` is
/// written as a JSON number or boolean, except under the free-text keys in ``textKeys`` (labels,
/// statuses, errors, commands, output), which stay strings).
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
    static func format(
        timestamp: String, level: Logger.Level, message: String, metadata: Logger.Metadata, format: LogFormat
    ) -> String {
        let pairs = metadata.sorted { $0.key < $1.key }.map { ($0.key, flatten($0.value)) }
        switch format {
        case .logfmt:
            var parts = ["ts=\(timestamp)", "level=\(level.rawValue)", "msg=\(logfmtValue(message))"]
            for (key, value) in pairs { parts.append("\(logfmtKey(key))=\(logfmtValue(value))") }
            return parts.joined(separator: " ")
        case .json:
            var parts = [
                "\"ts\":\(jsonString(timestamp))", "\"level\":\(jsonString(level.rawValue))",
                "\"msg\":\(jsonString(message))",
            ]
            for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where !["ts", "level", "msg"].contains(key) {
                parts.append("\(jsonString(key)):\(jsonValue(value, typed: !textKeys.contains(key)))")
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
            "{" + dictionary.sorted { $0.key < $1.key }.map { "\($0.key)=\(flatten($0.value))" }.joined(separator: ",")
                + "}"
        }
    }

    /// A key with spaces, quotes or `=` replaced by `_` (logfmt keys are never quoted).
    private static func logfmtKey(_ key: String) -> String {
        String(key.map { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline ? "_" : $0 })
    }

    /// `value` bare, or quoted and escaped when it is empty or has a space, quote, `=` or control character.
    static func logfmtValue(_ value: String) -> String {
        let needsQuotes =
            value.isEmpty
            || value.unicodeScalars.contains {
                $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || $0.value < 0x20 || $0.value == 0x7F
            }
        return needsQuotes ? ConfigValueReader.quote(value) : value
    }

    /// Metadata keys whose values are free text: never turned into JSON numbers or booleans, even
    /// when they look like one (a label `"123"`, an export status, a hook's output).
    static let textKeys: Set<String> = [
        "error", "export.label", "export.status", "hook.command", "hook.stdout_tail", "hook.stderr_tail",
        "hook.event_id", "reason", "pause.subject", "db.path", "db.source", "export.client_id", "accounts",
        "mprefd.version",
    ]

    /// Strings as JSON strings — or, when `typed`, as numbers and booleans when they are one —
    /// arrays as arrays, dictionaries as objects.
    private static func jsonValue(_ value: Logger.MetadataValue, typed: Bool) -> String {
        switch value {
        case .string(let text): typed ? jsonScalar(text) : jsonString(text)
        case .stringConvertible(let convertible):
            typed ? jsonScalar(convertible.description) : jsonString(convertible.description)
        case .array(let items): "[" + items.map { jsonValue($0, typed: typed) }.joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            "{"
                + dictionary.sorted { $0.key < $1.key }.map {
                    "\(jsonString($0.key)):\(jsonValue($0.value, typed: typed))"
                }.joined(separator: ",") + "}"
        }
    }

    /// `text` bare when it is a JSON number (`-12`, `0.25`, `1e-3`; no leading zeros, no `+`, no
    /// `inf`/`nan`) or `true`/`false`, else a JSON string.
    static func jsonScalar(_ text: String) -> String {
        if text == "true" || text == "false" || isJSONNumber(text) { return text }
        return jsonString(text)
    }

    /// RFC 8259 §6 number grammar.
    static func isJSONNumber(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        func digits() -> Int {
            var n = 0
            while let b = bytes.first, (0x30...0x39).contains(b) { bytes.removeFirst(); n += 1 }
            return n
        }
        if bytes.first == UInt8(ascii: "-") { bytes.removeFirst() }
        guard let first = bytes.first else { return false }
        if first == UInt8(ascii: "0") {
            bytes.removeFirst()
        } else if digits() == 0 {
            return false
        }
        if bytes.first == UInt8(ascii: ".") {
            bytes.removeFirst()
            if digits() == 0 { return false }
        }
        if let e = bytes.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            bytes.removeFirst()
            if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { bytes.removeFirst() }
            if digits() == 0 { return false }
        }
        return bytes.isEmpty && text.utf8.count <= 40
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

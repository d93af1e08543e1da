import Foundation
import MprefCore
import Logging
import MprefStore
import Synchronization

/// Writing to stdout and stderr.
enum Output {
    /// A line on stdout.
    static func line(_ text: String) {
        print(text)
    }

    /// How stderr lines are written: plain until a configuration with `log.format: json` is loaded
    /// (``useFormat(_:)``), then one JSON object per line, like the daemon's log.
    private static let stderrFormat = Mutex<LogFormat?>(nil)

    /// Makes every later ``note(_:level:metadata:)`` follow `format` (`json`: one JSON object per line).
    static func useFormat(_ format: LogFormat) {
        stderrFormat.withLock { $0 = format }
    }

    /// A line on stderr (notes such as "no tokens", and errors): the text as is, or with
    /// `log.format: json` a JSON object `{"ts":…,"level":…,"msg":TEXT,…metadata}`.
    static func note(_ text: String, level: Logger.Level = .info, metadata: Logger.Metadata = [:]) {
        let line: String
        if stderrFormat.withLock({ $0 }) == .json {
            line = StderrLogHandler.format(
                timestamp: Timestamp.format(Date()), level: level, message: text, metadata: metadata, format: .json)
        } else {
            line = text
        }
        // A failed write (stderr closed, or a pipe whose reader went away while `mprefd run` ignores
        // SIGPIPE) drops the line: the legacy `FileHandle.write(_:)` would trap instead.
        try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8))
    }

    /// `value` as pretty-printed JSON on stdout, keys sorted.
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(0x0A)
        // Straight to stdout, without a String copy of the encoded bytes.
        fflush(nil)
        FileHandle.standardOutput.write(data)
    }

    /// A JSON array on stdout whose elements are already JSON text, one element per line, written in
    /// 64 KiB chunks as they come (`list --json` over 100,000 tokens streams ~35 MB without holding it).
    static func jsonArray(_ produce: (_ element: @Sendable (String) throws -> Void) throws -> Void) throws {
        struct Pending { var bytes: [UInt8] = []; var elements = 0 }
        let pending = Mutex(Pending())
        @Sendable func flush(_ p: inout Pending) {
            FileHandle.standardOutput.write(Data(p.bytes))
            p.bytes.removeAll(keepingCapacity: true)
        }
        fflush(nil)
        try produce { element in
            pending.withLock { p in
                p.bytes.append(contentsOf: (p.elements == 0 ? "[\n" : ",\n").utf8)
                p.bytes.append(contentsOf: element.utf8)
                p.elements += 1
                if p.bytes.count >= 65_536 { flush(&p) }
            }
        }
        pending.withLock { p in
            p.bytes.append(contentsOf: (p.elements == 0 ? "[]\n" : "\n]\n").utf8)
            flush(&p)
        }
    }
}

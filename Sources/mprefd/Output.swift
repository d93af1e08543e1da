import Foundation
import Synchronization

/// Writing to stdout and stderr.
enum Output {
    /// A line on stdout.
    static func line(_ text: String) {
        print(text)
    }

    /// A line on stderr (notes such as `database: PATH`, and errors). A failed write (stderr closed,
    /// or a pipe whose reader went away while `mprefd run` ignores SIGPIPE) drops the line: the
    /// legacy `FileHandle.write(_:)` would trap instead.
    static func note(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data((text + "\n").utf8))
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

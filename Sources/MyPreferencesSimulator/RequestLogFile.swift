import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Appends one JSON line per recorded request to a file opened with `O_APPEND`. Each line goes out in a
/// single `write(2)`, so concurrent requests never interleave within a line and no lock is needed.
final class RequestLogFile: Sendable {
    /// Failure to open the log file; names the path and the `errno` text.
    struct OpenError: Error, CustomStringConvertible {
        var path: String
        var reason: String
        var description: String { "cannot open request log \(path): \(reason)" }
    }

    private let descriptor: Int32

    /// Opens (creating with mode 0644) `path` for appending.
    /// - Throws: ``OpenError`` when the file cannot be opened.
    init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OpenError(path: path, reason: String(cString: strerror(errno))) }
        self.descriptor = fd
    }

    /// Writes `record` as one line; a failed write is dropped (the in-memory record remains).
    func append(_ record: RecordedRequest) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(record) else { return }
        line.append(UInt8(ascii: "\n"))
        line.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let written = write(descriptor, base + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    deinit {
        close(descriptor)
    }
}

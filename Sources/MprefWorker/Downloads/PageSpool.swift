import Foundation
import MyPreferences

#if canImport(Glibc)
    import Glibc
#endif

/// The spool of a download (`<partial>.page`): the body of the page being stored, exactly as it
/// arrived, written before the next page is asked for. A `kill -9` after that request went out and
/// before the page's checkpoint was stored then costs only the request in flight: the restart
/// decodes the spooled body instead of fetching the page again — when the spool names this
/// checkpoint (the `.partial` bytes where the page's records go and the 1-based offset asked for),
/// has its whole length and its check matches; anything else (a spool cut short, of another page,
/// edited, or what a power loss left) is ignored and the page fetched again. Overwritten in place for
/// every page (its memory stays warm) and not `fsync`'d.
///
/// Format: a header line of fixed width, `START OFFSET LENGTH CHECK\n` — the first three as 20
/// decimal digits each, the check as 16 hex digits — then `LENGTH` bytes of body.
struct PageSpool: Equatable {
    /// Byte offset in the `.partial` file where the page's records go (the checkpoint's `bytes`).
    var start: Int64
    /// 1-based offset of the page's first record, as asked for (the checkpoint's next offset).
    var offset: Int64
    /// Bytes of the body.
    var length: Int64
    /// ``check(_:)`` of the body.
    var check: UInt64

    /// Bytes of the header line.
    static let headerLength = 80

    /// A 64-bit check of `bytes`: FNV-1a over 8-byte words in four interleaved lanes (word `i` goes
    /// to lane `i % 4`, so the lanes' multiplications run in parallel: ≈ 0.05 ms for a 1.1 MB page),
    /// the bytes after the last whole 32-byte block into the first lane, then the four lanes and the
    /// length folded together. Any one changed word changes its lane and so the check. Catches
    /// corruption and edits, not an adversary (who could as well edit the database).
    static func check(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let prime: UInt64 = 0x0000_0100_0000_01B3
        let basis: UInt64 = 0xCBF2_9CE4_8422_2325
        var lanes = (basis, basis ^ 1, basis ^ 2, basis ^ 3)
        var index = 0
        while index + 32 <= bytes.count {
            lanes.0 = (lanes.0 ^ bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* prime
            lanes.1 = (lanes.1 ^ bytes.loadUnaligned(fromByteOffset: index + 8, as: UInt64.self)) &* prime
            lanes.2 = (lanes.2 ^ bytes.loadUnaligned(fromByteOffset: index + 16, as: UInt64.self)) &* prime
            lanes.3 = (lanes.3 ^ bytes.loadUnaligned(fromByteOffset: index + 24, as: UInt64.self)) &* prime
            index += 32
        }
        while index < bytes.count {
            lanes.0 = (lanes.0 ^ UInt64(bytes[index])) &* prime
            index += 1
        }
        var hash = basis
        for lane in [lanes.0, lanes.1, lanes.2, lanes.3, UInt64(bytes.count)] { hash = (hash ^ lane) &* prime }
        return hash
    }

    var header: String {
        let hex = String(check, radix: 16)
        return Self.padded(String(start), 20) + " " + Self.padded(String(offset), 20) + " "
            + Self.padded(String(length), 20) + " " + Self.padded(hex, 16) + "\n"
    }

    /// Writes `body` as the spool of the page whose records go at `start` in the `.partial` file and
    /// that was asked for at `offset`, over the previous spool, 0640, never through a symlink.
    /// - Throws: ``DownloadFileError`` when the spool cannot be opened or written (a full disk says so).
    static func write(_ body: PageBody, start: Int64, offset: Int64, to path: String) throws(DownloadFileError) {
        let spool = PageSpool(
            start: start, offset: offset, length: Int64(body.count), check: body.withUnsafeBytes { check($0) })
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard fd >= 0 else { throw .errno("cannot open", path) }
        defer { close(fd) }
        let header = Array(spool.header.utf8)
        guard header.withUnsafeBytes({ writeAll(fd, $0, at: 0) }) else { throw .errno("cannot write", path) }
        guard body.withUnsafeBytes({ writeAll(fd, $0, at: off_t(headerLength)) }) else {
            throw .errno("cannot write", path)
        }
    }

    /// The spooled body of the page whose records go at `start` and that is asked for at `offset`;
    /// nil when the spool is missing, unreadable, of another page, longer than `maxLength`, cut short
    /// or its check does not match.
    static func read(_ path: String, start: Int64, offset: Int64, maxLength: Int64) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: headerLength)
        guard header.withUnsafeMutableBytes({ readAll(fd, $0, at: 0) }), header[headerLength - 1] == 0x0A else {
            return nil
        }
        let fields = header[0..<(headerLength - 1)].split(separator: 0x20).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count == 4, fields[0].count == 20, fields[1].count == 20, fields[2].count == 20,
            fields[3].count == 16, let spooledStart = Int64(fields[0]), let spooledOffset = Int64(fields[1]),
            let length = Int64(fields[2]), let check = UInt64(fields[3], radix: 16),
            spooledStart == start, spooledOffset == offset, length > 0, length <= maxLength,
            let count = Int(exactly: length)
        else { return nil }
        var body = [UInt8](repeating: 0, count: count)
        guard body.withUnsafeMutableBytes({ readAll(fd, $0, at: off_t(headerLength)) }),
            body.withUnsafeBytes({ Self.check($0) }) == check
        else { return nil }
        return body
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at position: off_t) -> Bool {
        whole(bytes.count) { done in
            pwrite(fd, bytes.baseAddress.map { $0 + done }, bytes.count - done, position + off_t(done))
        }
    }

    private static func readAll(_ fd: Int32, _ bytes: UnsafeMutableRawBufferPointer, at position: off_t) -> Bool {
        whole(bytes.count) { done in
            pread(fd, bytes.baseAddress.map { $0 + done }, bytes.count - done, position + off_t(done))
        }
    }

    /// Repeats `step` (one `pread` or `pwrite` of the bytes from the given count done on) until `count`
    /// bytes are done, again after `EINTR`; false on any other error or at the end of the file.
    private static func whole(_ count: Int, _ step: (Int) -> Int) -> Bool {
        var done = 0
        while done < count {
            let n = step(done)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    private static func padded(_ text: String, _ width: Int) -> String {
        String(repeating: "0", count: max(0, width - text.count)) + text
    }
}

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The note written beside a `.partial` file just before each page is appended (`<partial>.page`):
/// where the page starts in the file, its length and a check of its bytes. After a crash between the
/// append and its checkpoint, the restart keeps that page only when the bytes past the checkpoint are
/// exactly what the note describes — never a page cut short, a file edited by hand or what a power
/// loss left. Not `fsync`'d: a lost or garbled note only means the page is fetched again.
///
/// Format: one line of fixed width, `START LENGTH CHECK\n` — bytes as 20 decimal digits each, the
/// check as 16 hex digits.
struct PageNote: Equatable {
    /// Byte offset of the page's first byte in the `.partial` file (the checkpoint's `bytes` then).
    var start: Int64
    /// Bytes of the page (its records, one line each).
    var length: Int64
    /// ``check(_:)`` of those bytes.
    var check: UInt64

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

    var line: String {
        let hex = String(check, radix: 16)
        return Self.padded(String(start), 20) + " " + Self.padded(String(length), 20) + " " + Self.padded(hex, 16)
            + "\n"
    }

    /// The note read from `path`; nil when missing, unreadable or not one well-formed line.
    static func read(_ path: String) -> PageNote? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n == 59, buffer[58] == 0x0A else { return nil }
        let fields = buffer[0..<58].split(separator: 0x20).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count == 3, fields[0].count == 20, fields[1].count == 20, fields[2].count == 16,
            let start = Int64(fields[0]), let length = Int64(fields[1]), let check = UInt64(fields[2], radix: 16),
            start >= 0, length >= 0
        else { return nil }
        return PageNote(start: start, length: length, check: check)
    }

    /// Writes the note over the previous one (same width: no truncation needed), 0640, never through a symlink.
    func write(_ path: String) throws(DownloadFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard fd >= 0 else { throw .errno("cannot open", path) }
        defer { close(fd) }
        let bytes = Array(line.utf8)
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard n == bytes.count else { throw .errno("cannot write", path) }
    }

    private static func padded(_ text: String, _ width: Int) -> String {
        String(repeating: "0", count: max(0, width - text.count)) + text
    }
}

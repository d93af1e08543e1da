import Crypto
import Foundation
import MyPreferences
#if canImport(Glibc)
    import Glibc
#endif

/// Why a download file operation failed.
package struct DownloadFileError: Error, CustomStringConvertible {
    /// The disk (or the user's quota) is full: nothing is lost, the step is tried again later.
    package var diskFull: Bool
    package var description: String

    static func errno(_ what: String, _ path: String, _ code: Int32 = Glibc.errno) -> DownloadFileError {
        DownloadFileError(
            diskFull: code == ENOSPC || code == EDQUOT,
            description: "\(what) \(path): \(String(cString: strerror(code)))")
    }
}

/// The `.partial` file of one download, open for appending, with the SHA-256 of what it holds.
///
/// Crash safety: the file's durable prefix is what the checkpoint in SQLite names (bytes and their
/// checksum). ``open(partial:final:bytes:sha256:nextOffset:)`` checks that prefix's checksum and cuts
/// off whatever follows it (a page appended but not checkpointed, a page cut in the middle, a hand
/// edit, what a power loss left), and hands back the body of the page being stored when its spool
/// (``PageSpool``, `<partial>.page`, written before the next page was asked for) matches the
/// checkpoint: the restart stores that page from it instead of fetching it again — no gap, no
/// duplicate, at most the one request in flight lost. Used by one download step at a time (the scheduler never runs two steps of
/// one token at once); ``OpenDownloads`` hands it from one step to the next.
package final class DownloadFile: @unchecked Sendable {
    /// Path of the `.partial` file.
    package let path: String
    /// Bytes in the file (all of them durable after ``append(_:)`` returned).
    package private(set) var bytes: Int64
    private var hasher: SHA256
    private var descriptor: Int32
    /// Bytes from the start of the file already dropped from the page cache (a multiple of the page size).
    private var uncachedBytes: Int64 = 0
    /// The kernel's page size in bytes (`sysconf(_SC_PAGESIZE)`; 4096 when it cannot be read).
    private static let pageSize: Int64 = {
        let size = sysconf(Int32(_SC_PAGESIZE))
        return size > 0 ? Int64(size) : 4096
    }()

    private init(path: String, descriptor: Int32, bytes: Int64, hasher: SHA256) {
        self.path = path
        self.descriptor = descriptor
        self.bytes = bytes
        self.hasher = hasher
    }

    deinit { if descriptor >= 0 { Glibc.close(descriptor) } }

    /// Hex SHA-256 of the file's content so far; `nil` while it is empty.
    package var digest: String? { bytes == 0 ? nil : Self.hex(hasher.finalize()) }

    /// What stands at a path, the path itself not followed if it is a symlink (`lstat`).
    package enum PathKind: Sendable, Equatable {
        case nothing, regularFile, other
    }

    /// What stands at `path` (`lstat`: a symlink is `other`).
    package static func kind(at path: String) -> PathKind {
        var info = stat()
        guard lstat(path, &info) == 0 else { return .nothing }
        return (info.st_mode & S_IFMT) == S_IFREG ? .regularFile : .other
    }

    /// The file at its checkpoint, as ``open(partial:final:bytes:sha256:nextOffset:)`` found it.
    package struct Opened {
        package var file: DownloadFile
        /// The checkpoint's prefix was missing or did not match: the file is empty, the download starts over at offset 1.
        package var restarted: Bool
        /// The body of the page at the checkpoint, spooled before a crash or kill (``PageSpool``); nil
        /// when there is none that matches (then the page is fetched).
        package var spooledBody: PageBody?
    }

    /// Opens `partial` at the checkpoint: creates the directory (0750) and the file (0640) when
    /// missing; takes `final` back as the partial file when only it exists (a rename whose checkpoint
    /// was not stored); verifies `sha256` of the first `bytes` bytes and truncates what follows; reads
    /// the spool of the page at the checkpoint (records at `bytes`, asked for at `nextOffset`).
    /// - Parameter nextOffset: the checkpoint's next 1-based offset (nil: no spool is read).
    /// - Throws: ``DownloadFileError`` when the directory or file cannot be created, read, written or truncated.
    package static func open(
        partial: String, final: String, bytes: Int64, sha256: String?, nextOffset: Int64? = nil
    ) throws(DownloadFileError) -> Opened {
        let directory = (partial as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        } catch {
            throw DownloadFileError(
                diskFull: false, description: "cannot create \(directory): \(error.localizedDescription)")
        }
        // Only this download's own file, renamed before its checkpoint was stored, is taken back; a
        // fresh download never touches whatever else stands at the final path.
        var existing = stat()
        if access(partial, F_OK) != 0, lstat(final, &existing) == 0 {
            guard bytes > 0, (existing.st_mode & S_IFMT) == S_IFREG else {
                throw DownloadFileError(
                    diskFull: false,
                    description:
                        "\(final) already exists and is not this download's file; move it away, then `mprefd download --retry`"
                )
            }
            guard rename(final, partial) == 0 else { throw .errno("cannot rename back", final) }
        }
        let fd = Glibc.open(partial, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard fd >= 0 else { throw .errno("cannot open", partial) }
        let file = DownloadFile(path: partial, descriptor: fd, bytes: 0, hasher: SHA256())
        guard fchmod(fd, 0o640) == 0 else { throw .errno("cannot chmod", partial) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .errno("cannot stat", partial) }
        let size = Int64(info.st_size)
        if bytes > 0, size >= bytes {
            try file.hashPrefix(bytes)
            if file.digest == sha256 {
                try file.truncate(to: file.bytes)
                return Opened(file: file, restarted: false, spooledBody: file.spooledBody(nextOffset))
            }
        }
        file.hasher = SHA256()
        file.bytes = 0
        try file.truncate(to: 0)
        let restarted = bytes > 0
        return Opened(file: file, restarted: restarted, spooledBody: restarted ? nil : file.spooledBody(nextOffset))
    }

    /// The largest spooled body read back (a longer spool is ignored and its page fetched again).
    static let spoolLimit: Int64 = 256 << 20

    /// The spool of the page being stored: `<partial>.page` (``PageSpool``).
    var spoolPath: String { path + ".page" }

    /// The spooled body of the page whose records go at ``bytes``, asked for at `nextOffset`.
    private func spooledBody(_ nextOffset: Int64?) -> PageBody? {
        guard let nextOffset else { return nil }
        return PageSpool.read(spoolPath, start: bytes, offset: nextOffset, maxLength: Self.spoolLimit).map(
            PageBody.init)
    }

    /// Writes `body`, the page asked for at `offset` whose records go at ``bytes``, to the spool, over
    /// the previous one. Written before the next page is asked for; not `fsync`'d (a kill leaves it
    /// whole, a power loss at worst makes it not match).
    /// - Throws: ``DownloadFileError`` when it cannot be written (a full disk says so).
    package func spool(_ body: PageBody, offset: Int64) throws(DownloadFileError) {
        try PageSpool.write(body, start: bytes, offset: offset, to: spoolPath)
    }

    /// Appends `data` and makes it durable (`fsync`) before returning. On failure the file is cut
    /// back to what it held before, so the checkpoint stays true.
    package func append(_ data: [UInt8]) throws(DownloadFileError) {
        guard !data.isEmpty else { return }
        var written = 0
        let failure: DownloadFileError? = data.withUnsafeBytes { buffer -> DownloadFileError? in
            while written < buffer.count {
                let n = pwrite(
                    descriptor, buffer.baseAddress.map { $0 + written }, buffer.count - written,
                    off_t(bytes) + off_t(written))
                if n < 0 {
                    if errno == EINTR { continue }
                    return .errno("cannot write", path)
                }
                written += n
            }
            return nil
        }
        if let failure {
            _ = ftruncate(descriptor, off_t(bytes))
            throw failure
        }
        guard fsync(descriptor) == 0 else {
            let error = DownloadFileError.errno("cannot fsync", path)
            _ = ftruncate(descriptor, off_t(bytes))
            throw error
        }
        hasher.update(data: data)
        bytes += Int64(data.count)
        dropDurablePagesFromCache()
    }

    /// Tells the kernel it may drop the file's whole memory pages that are now durable
    /// (`posix_fadvise(POSIX_FADV_DONTNEED)`, advisory: a failure is ignored). A download writes each
    /// byte once and never reads it back (its SHA-256 is computed as it is written), so keeping
    /// gigabytes of it cached would only push the host's useful cache out, and each page written would
    /// need fresh memory (on a virtual machine whose freed memory goes back to the host, ≈ 7 µs per
    /// 4 KiB page: BENCHMARKS §6a′). The page holding the file's last, partial bytes stays cached, so
    /// the next append never reads it back from disk.
    private func dropDurablePagesFromCache() {
        let end = bytes - bytes % Self.pageSize
        guard end > uncachedBytes else { return }
        _ = posix_fadvise(descriptor, off_t(uncachedBytes), off_t(end - uncachedBytes), POSIX_FADV_DONTNEED)
        uncachedBytes = end
    }

    /// Makes the file final: `fsync`, rename to `final`, `fsync` of the directory. Returns the hex SHA-256.
    package func finish(as final: String) throws(DownloadFileError) -> String {
        guard fsync(descriptor) == 0 else { throw .errno("cannot fsync", path) }
        let digest = Self.hex(hasher.finalize())
        Glibc.close(descriptor)
        descriptor = -1
        guard rename(path, final) == 0 else { throw .errno("cannot rename to \(final):", path) }
        unlink(spoolPath)
        let directory = (final as NSString).deletingLastPathComponent
        let dirfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { throw .errno("cannot open", directory) }
        defer { Glibc.close(dirfd) }
        guard fsync(dirfd) == 0 else { throw .errno("cannot fsync", directory) }
        return digest
    }

    /// Free bytes for this user in the file system holding `path`'s directory; `nil` when unknown.
    package static func freeBytes(near path: String) -> Int64? {
        var directory = (path as NSString).deletingLastPathComponent
        while access(directory, F_OK) != 0, directory != "/", !directory.isEmpty {
            directory = (directory as NSString).deletingLastPathComponent
        }
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return nil }
        return Int64(
            clamping: UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize)).partialValue)
    }

    private func truncate(to size: Int64) throws(DownloadFileError) {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw .errno("cannot truncate", path) }
        bytes = size
    }

    private func hashPrefix(_ count: Int64) throws(DownloadFileError) {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var done: Int64 = 0
        while done < count {
            let want = Int(min(Int64(buffer.count), count - done))
            let n = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, want, off_t(done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw .errno("cannot read", path) }
            hasher.update(data: buffer[0..<n])
            done += Int64(n)
        }
        bytes = done
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined()
    }
}

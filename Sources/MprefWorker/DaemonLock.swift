import Foundation
import MprefCore
import Synchronization

/// The single-instance lock: an exclusive `flock` on the database file itself, held for the
/// daemon's life (the kernel drops it when the process ends, even by `kill -9`).
///
/// Locking the file rather than a name makes it one daemon per database *file*, whatever path
/// reaches it: a symlink, a hard link, a relative path. On Linux `flock` locks and SQLite's POSIX
/// (`fcntl`) byte-range locks are independent, so the lock never disturbs SQLite. (On NFS `flock`
/// is emulated with byte-range locks; SQLite does not support NFS anyway.)
///
/// One rule follows from SQLite's POSIX locks: closing *any* descriptor of the database file drops
/// every POSIX lock this process holds on it, SQLite's included. So the descriptors opened here are
/// never closed while the process lives: the daemon's lock is held until exit, and ``holder(databasePath:)``
/// keeps one probe descriptor per path.
///
/// `<database>.lock` (next to the real file, symlinks resolved) is only a note of the holder's PID
/// for people and for `mprefd status`; deleting it changes nothing.
package final class DaemonLock: Sendable {
    /// The database path as given.
    package let databasePath: String
    /// The PID note: `<real database path>.lock`.
    package let notePath: String
    private let descriptor: Int32

    /// Why the lock could not be taken.
    package struct Failure: Error, CustomStringConvertible, Sendable {
        /// The PID of the running daemon, when its note could be read.
        package var holderPID: Int32?
        package var description: String
    }

    /// Takes the lock on the existing database file, or throws `Failure` naming the running daemon's PID.
    ///
    /// - Parameter attempts: Tries, 50 ms apart, before giving up: a `status` or `wait` probing the
    ///   lock holds it for a moment.
    /// - Throws: `Failure` when another process holds the lock or the file cannot be opened.
    package init(databasePath: String, attempts: Int = 20) throws {
        self.databasePath = databasePath
        notePath = Self.notePath(databasePath)
        let fd = open(databasePath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw Failure(
                holderPID: nil,
                description:
                    "cannot open \(databasePath) to take the single-instance lock: \(String(cString: strerror(errno)))")
        }
        var tries = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            tries += 1
            guard errno == EWOULDBLOCK || errno == EINTR, tries < max(1, attempts) else {
                // The descriptor stays open: closing it would drop this process's SQLite locks on the file.
                Self.parked.withLock { $0.append(fd) }
                let pid = Self.readNote(notePath)
                throw Failure(
                    holderPID: pid,
                    description: "another mprefd is already running on \(databasePath)"
                        + (pid.map { " (PID \($0))" } ?? "")
                        + " (the same database file, perhaps reached by another path); stop it first, or use another --db"
                )
            }
            usleep(50_000)
        }
        descriptor = fd
        let note = open(notePath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        if note >= 0 {
            let text = "\(getpid())\n"
            _ = text.withCString { write(note, $0, strlen($0)) }
            close(note)
        }
    }

    /// Never closes the descriptor (see the type's documentation): the lock ends with the process.
    deinit { Self.parked.withLock { $0.append(descriptor) } }

    /// Descriptors of database files that must stay open for the process's life.
    private static let parked = Mutex<[Int32]>([])
    /// One probe descriptor per database path, for ``holder(databasePath:)``.
    private static let probes = Mutex<[String: Int32]>([:])

    /// Whether some process holds the lock of the database file at `databasePath`, and its PID when
    /// its note is readable. Needs only read access to the database file. Returns not held when the
    /// file is missing or unreadable.
    package static func holder(databasePath: String) -> (isHeld: Bool, pid: Int32?) {
        let fd = probes.withLock { probes -> Int32 in
            if let fd = probes[databasePath] { return fd }
            let fd = open(databasePath, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { probes[databasePath] = fd }
            return fd
        }
        guard fd >= 0 else { return (false, nil) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            _ = flock(fd, LOCK_UN)
            return (false, nil)
        }
        return (true, readNote(notePath(databasePath)))
    }

    /// `<database path with symlinks resolved>.lock`.
    package static func notePath(_ databasePath: String) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard realpath(databasePath, &buffer) != nil else { return databasePath + ".lock" }
        let nul = buffer.firstIndex(of: 0) ?? buffer.endIndex
        return String(decoding: buffer[..<nul].map { UInt8(bitPattern: $0) }, as: UTF8.self) + ".lock"
    }

    private static func readNote(_ path: String) -> Int32? {
        guard let data = FileManager.default.contents(atPath: path), data.count < 64 else { return nil }
        return Int32(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

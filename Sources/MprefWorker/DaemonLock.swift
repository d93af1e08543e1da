import Foundation
import MprefCore

/// The single-instance lock: an exclusive `flock` on `<database>.lock`, held for the daemon's life
/// (the kernel drops it if the process dies, even by `kill -9`). The file holds the owner's PID.
package final class DaemonLock: Sendable {
    /// The lock file's path: the database path + `.lock`.
    package let path: String
    private let descriptor: Int32

    /// Why the lock could not be taken.
    package struct Failure: Error, CustomStringConvertible, Sendable {
        /// The PID of the running daemon, when it could be read.
        package var holderPID: Int32?
        package var description: String
    }

    /// Takes the lock, or throws `Failure` naming the running daemon's PID.
    package init(databasePath: String) throws {
        path = databasePath + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw Failure(holderPID: nil, description: "cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let pid = Self.readPID(fd: fd)
            close(fd)
            throw Failure(holderPID: pid, description: "another mprefd is already running on \(databasePath)" + (pid.map { " (PID \($0))" } ?? "") + "; stop it first, or use another --db")
        }
        _ = ftruncate(fd, 0)
        let text = "\(getpid())\n"
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Whether some process holds the lock of `databasePath`, and its PID when readable.
    /// Needs only read access to the lock file.
    package static func holder(databasePath: String) -> (isHeld: Bool, pid: Int32?) {
        let fd = open(databasePath + ".lock", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return (false, nil) }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            _ = flock(fd, LOCK_UN)
            return (false, nil)
        }
        return (true, readPID(fd: fd))
    }

    private static func readPID(fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

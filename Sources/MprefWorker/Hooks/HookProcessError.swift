/// The hook process could not be started (or, very rarely, not followed to its end).
///
/// A hook that starts and then fails, times out or is interrupted is not an error: it is a
/// ``HookProcessResult``. The description is safe to log: it never contains environment values or
/// standard input.
package struct HookProcessError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Storage: Hashable, Sendable {
            case invalidEnvironment
            case invalidCommand
            case spawnFailed
            case monitoringFailed
        }
        private let storage: Storage

        /// An environment key is empty or contains `=` or NUL, or a value contains NUL.
        /// Nothing was started.
        package static let invalidEnvironment = Code(storage: .invalidEnvironment)
        /// The command contains NUL: `/bin/sh -c` would receive, and run, only what comes before it
        /// (a configuration or a database row edited by hand). Nothing was started.
        package static let invalidCommand = Code(storage: .invalidCommand)
        /// `/bin/sh` could not be started (missing, not executable, bad working directory,
        /// out of processes, …). Nothing is running.
        package static let spawnFailed = Code(storage: .spawnFailed)
        /// The hook was started but its end could not be observed; the runner killed its process
        /// group. `pid` is set.
        package static let monitoringFailed = Code(storage: .monitoringFailed)

        package var description: String {
            switch storage {
            case .invalidEnvironment: "invalid environment"
            case .invalidCommand: "invalid command"
            case .spawnFailed: "spawn failed"
            case .monitoringFailed: "monitoring failed"
            }
        }
    }

    /// What went wrong.
    package var code: Code
    /// A short, log-safe explanation (for example the underlying `errno` name or the offending
    /// environment key).
    package var reason: String
    /// The hook's PID when it had been started (only with ``Code/monitoringFailed``).
    package var pid: Int32?

    package init(code: Code, reason: String, pid: Int32? = nil) {
        self.code = code
        self.reason = reason
        self.pid = pid
    }

    package var description: String {
        var text = "hook process: \(code): \(reason)"
        if let pid {
            text += " (pid \(pid))"
        }
        return text
    }
}

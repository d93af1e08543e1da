import Logging
import Synchronization

/// Counts the log lines whose message is one of `messages` and lets a test wait until a count is
/// reached: a log line as an event. Feed it from a ``WatchingLogHandler``.
package final class LogLineCounter: Sendable {
    private struct State {
        var count = 0
        var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let messages: Set<String>
    private let state = Mutex(State())

    package init(_ messages: Set<String>) { self.messages = messages }

    /// Lines counted so far.
    package var count: Int { state.withLock { $0.count } }

    /// Counts `message` when it is one of the counted ones.
    package func note(_ message: Logger.Message) {
        guard messages.contains(message.description) else { return }
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.count += 1
            let count = s.count
            let ready = s.waiters.filter { $0.count <= count }.map(\.continuation)
            s.waiters.removeAll { $0.count <= count }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once `count` lines have been counted (at once when they have).
    package func wait(for count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let reached = state.withLock { s -> Bool in
                if s.count >= count { return true }
                s.waiters.append((count, continuation))
                return false
            }
            if reached { continuation.resume() }
        }
    }

    /// A logger at `level` whose every line goes to the counters in `counters`.
    package static func logger(_ counters: LogLineCounter..., level: Logger.Level = .debug) -> Logger {
        var logger = Logger(label: "counted") { _ in
            WatchingLogHandler { message, _ in
                for counter in counters { counter.note(message) }
            }
        }
        logger.logLevel = level
        return logger
    }
}

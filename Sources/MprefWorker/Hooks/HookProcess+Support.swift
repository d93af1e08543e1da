import MprefCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The daemon must survive writing to a hook that closed its stdin: `SIGPIPE` is ignored
/// process-wide, so such a write fails with `EPIPE` instead. (swift-subprocess resets all signal
/// dispositions to default in the child, so hooks still get the usual `SIGPIPE` behaviour.)
enum BrokenPipe {
    private static let ignored: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    static func ignoreOnce() {
        _ = ignored
    }
}

/// Hands the hook's PID from the uncancelled execution task to `run`, which calls `onStart`.
/// Resolved exactly once: with the PID after the spawn, or `nil` when the spawn failed.
final class SpawnNotice: Sendable {
    private enum State {
        case pending
        case waiting(CheckedContinuation<Int32?, Never>)
        case resolved(Int32?)
    }
    private let state = Mutex(State.pending)

    func resolve(_ pid: Int32?) {
        let waiter = state.withLock { state -> CheckedContinuation<Int32?, Never>? in
            switch state {
            case .pending:
                state = .resolved(pid)
                return nil
            case .waiting(let continuation):
                state = .resolved(pid)
                return continuation
            case .resolved:
                return nil
            }
        }
        waiter?.resume(returning: pid)
    }

    /// Not cancellation-aware on purpose: the execution task always resolves it.
    func pid() async -> Int32? {
        await withCheckedContinuation { continuation in
            let resolved = state.withLock { state -> Int32?? in
                switch state {
                case .pending, .waiting:
                    state = .waiting(continuation)
                    return nil
                case .resolved(let pid):
                    return .some(pid)
                }
            }
            if let resolved {
                continuation.resume(returning: resolved)
            }
        }
    }
}

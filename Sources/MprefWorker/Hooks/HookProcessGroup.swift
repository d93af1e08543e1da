import MprefCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why the runner ended a hook early.
enum HookTerminationReason: Sendable, Hashable {
    case timedOut
    case interrupted
}

/// Signals one hook's process group, and only while that group is certainly still the hook's.
///
/// The group ID is the hook's PID (`processGroupID = 0`). It stays reserved for the hook as long as
/// the hook's leader is unreaped, so every signal goes out under a lock that ``settle()`` closes
/// *before* swift-subprocess reaps the leader. After that the group ID could in principle be reused
/// by an unrelated process, and nothing here signals it any more (except ``reapOrphans`` which only
/// touches our own children).
final class HookProcessGroup: Sendable {
    private struct State {
        var isSettled = false
        var reason: HookTerminationReason?
    }

    /// The process group ID (= the hook's PID).
    let id: pid_t
    private let state = Mutex(State())

    init(id: pid_t) {
        self.id = id
    }

    /// The first reason the runner started killing the hook, if it did.
    var terminationReason: HookTerminationReason? {
        state.withLock { $0.reason }
    }

    /// Sends `SIGTERM` to the whole group unless the hook already ended; records `reason` unless
    /// another one came first. Returns whether the signal was sent.
    func terminate(because reason: HookTerminationReason) -> Bool {
        state.withLock { state in
            guard !state.isSettled else { return false }
            if state.reason == nil {
                state.reason = reason
            }
            _ = kill(-id, SIGTERM)
            return true
        }
    }

    /// Sends `SIGKILL` to the whole group unless the hook already ended.
    func forceKill() {
        state.withLock { state in
            guard !state.isSettled else { return }
            _ = kill(-id, SIGKILL)
        }
    }

    /// Call once the leader has exited but before it is reaped: `SIGKILL`s every member left in the
    /// group (background jobs of the hook, members that ignored `SIGTERM`) and stops all further
    /// signalling.
    func settle() {
        state.withLock { state in
            guard !state.isSettled else { return }
            state.isSettled = true
            _ = kill(-id, SIGKILL)
        }
    }

    /// Whether the group leader has exited (it may still await reaping). Does not reap it, so
    /// swift-subprocess still collects its status.
    static func leaderHasExited(_ pid: pid_t) -> Bool {
        while true {
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 {
                // With WNOHANG, a zeroed siginfo means "still running".
                return info.si_signo != 0
            }
            if errno == EINTR { continue }
            // ECHILD: not (or no longer) our child; nothing left to wait for.
            return true
        }
    }

    /// Waits, without reaping, until the group leader has exited. Polls with a short backoff; only
    /// used when the hook closed its output before exiting, so the usual path returns at once.
    static func waitForLeaderExit(_ pid: pid_t) async {
        var delay = Duration.milliseconds(2)
        while !leaderHasExited(pid) {
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(100))
        }
    }

    /// Reaps members of group `pgid` that are our children — with the daemon a child subreaper,
    /// every orphaned background job of the hook is — until none is left (`ECHILD`) or
    /// `deadline` passes. Kills the group again first, so nothing in it keeps running.
    ///
    /// Call only after the leader was reaped: `waitpid(-pgid)` touches this group alone, never the
    /// direct children of other hooks that swift-subprocess waits on.
    ///
    /// - Returns: How many processes were reaped, and whether members that are our children were
    ///   still alive at the deadline.
    static func reapOrphans(ofGroup pgid: pid_t, deadline: ContinuousClock.Instant) async -> (
        reaped: Int, leftAlive: Bool
    ) {
        _ = kill(-pgid, SIGKILL)
        var reaped = 0
        var delay = Duration.milliseconds(1)
        while true {
            var status: Int32 = 0
            let pid = waitpid(-pgid, &status, WNOHANG)
            if pid > 0 {
                reaped += 1
                continue
            }
            if pid < 0 {
                if errno == EINTR { continue }
                return (reaped, false)  // ECHILD: no child of ours left in the group.
            }
            // Children of ours in the group have not died yet (SIGKILL is on its way).
            if ContinuousClock.now >= deadline {
                return (reaped, true)
            }
            _ = kill(-pgid, SIGKILL)
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(50))
        }
    }
}

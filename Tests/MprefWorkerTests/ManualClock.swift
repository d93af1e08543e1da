import Synchronization

/// A clock that moves only when a test advances it, with the continuous clock's instants (so the
/// scheduler, which keeps `ContinuousClock.Instant`s, runs on it unchanged).
///
/// Sleepers wake when ``advance(to:)`` reaches their deadline, or throw `CancellationError` when
/// their task is cancelled. ``nextDeadline(before:)`` waits — on the event, not by polling — until
/// someone sleeps with a deadline before a bound: the sign that the code under test has gone idle.
final class ManualClock: Clock {
    typealias Duration = Swift.Duration
    typealias Instant = ContinuousClock.Instant

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Watcher {
        var bound: Instant
        var continuation: CheckedContinuation<Instant, Never>
    }

    private struct State {
        var now: Instant
        var nextID: UInt64 = 0
        var sleepers: [UInt64: Sleeper] = [:]
        var watchers: [Watcher] = []

        /// The earliest sleeper's deadline below `bound`, if any.
        func earliest(before bound: Instant) -> Instant? {
            sleepers.values.map(\.deadline).filter { $0 < bound }.min()
        }
    }

    private let state: Mutex<State>
    /// The instant the clock started at.
    let start: Instant

    init(start: Instant = ContinuousClock.now) {
        self.start = start
        state = Mutex(State(now: start))
    }

    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .zero }
    /// Time advanced since ``start``.
    var elapsed: Duration { now - start }

    func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id = state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (outcome, woken) = state.withLock { s -> (Result<Void, any Error>?, [Watcher]) in
                    if Task.isCancelled { return (.failure(CancellationError()), []) }
                    if deadline <= s.now { return (.success(()), []) }
                    s.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    var woken: [Watcher] = []
                    s.watchers.removeAll { w in
                        guard deadline < w.bound else { return false }
                        woken.append(w)
                        return true
                    }
                    return (nil, woken)
                }
                if let outcome { continuation.resume(with: outcome) }
                for w in woken { w.continuation.resume(returning: deadline) }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock to `instant` (never backwards) and wakes every sleeper due by then.
    func advance(to instant: Instant) {
        let due = state.withLock { s -> [Sleeper] in
            s.now = max(s.now, instant)
            let ids = s.sleepers.filter { $0.value.deadline <= s.now }.map(\.key)
            return ids.compactMap { s.sleepers.removeValue(forKey: $0) }
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    func advance(by duration: Duration) { advance(to: now + duration) }

    /// The earliest deadline of a sleeper before `bound`, waiting until there is one.
    func nextDeadline(before bound: Instant) async -> Instant {
        await withCheckedContinuation { continuation in
            let found = state.withLock { s -> Instant? in
                if let earliest = s.earliest(before: bound) { return earliest }
                s.watchers.append(Watcher(bound: bound, continuation: continuation))
                return nil
            }
            if let found { continuation.resume(returning: found) }
        }
    }
}

import Foundation
import Synchronization

/// A clock that moves only when the test says so: ``advance(by:)`` moves ``now`` (and ``wallNow`` with it)
/// and wakes, in deadline order, every sleeper whose deadline is then reached. Cancelling a sleeping task
/// ends its sleep with `CancellationError`, as `ContinuousClock`'s does.
///
/// Its instants are `ContinuousClock.Instant`s, starting at the real `ContinuousClock.now` of its creation,
/// so it can stand in wherever the code under test takes a monotonic instant or a closure returning one
/// (`SchedulerState`'s `now:`, `CallbackRateLimiter.allow(_:now:)`, `SegmentSchedules`' `monotonicNow`);
/// ``wallNow`` is the matching wall time, for the `wallNow`/`now: () -> Date` closures. Code that
/// sleeps must sleep on this clock (`PollingService`'s `clock:`, `Mailbox.take(until:on:)`), not on
/// the real continuous clock, or it waits on real time. The pattern is swift-async-algorithms' test `ManualClock` and Hummingbird's
/// `MockClock`, on `Swift.Duration`.
package final class ManualClock: Clock, Sendable {
    package typealias Instant = ContinuousClock.Instant
    package typealias Duration = Swift.Duration

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Instant
        var wallNow: Date
        var sleepers: [Int: Sleeper] = [:]
        var nextID = 0
        /// Tasks waiting in ``waitForSleepers(_:)``: how many sleepers each wants.
        var watchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
        /// Tasks waiting in ``nextDeadline(before:)``: the bound each wants a deadline below.
        var deadlineWatchers: [(bound: Instant, continuation: CheckedContinuation<Instant, Never>)] = []

        /// The earliest sleeper's deadline below `bound`, if any.
        func earliest(before bound: Instant) -> Instant? {
            sleepers.values.map(\.deadline).filter { $0 < bound }.min()
        }
    }

    private let state: Mutex<State>

    /// A clock at the real monotonic now, whose wall time reads `wallStart`.
    package init(wallStart: Date = Date(timeIntervalSince1970: 1_700_000_000)) {
        start = .now
        state = Mutex(State(now: start, wallNow: wallStart))
    }

    /// The instant the clock started at.
    package let start: Instant
    /// Time advanced since ``start``.
    package var elapsed: Duration { now - start }

    package var now: Instant { state.withLock { $0.now } }
    /// The wall time that goes with ``now``: `wallStart` plus everything advanced since.
    package var wallNow: Date { state.withLock { $0.wallNow } }
    package var minimumResolution: Duration { .zero }
    /// Tasks sleeping on this clock now.
    package var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Suspends until ``advance(by:)`` reaches `deadline` (returns at once when it is reached already).
    /// - Throws: `CancellationError` when the task is cancelled first.
    package func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id = state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Now { case wait, wake, cancel }
                let (now, watchers, deadlineWatchers) = state.withLock {
                    s -> (Now, [CheckedContinuation<Void, Never>], [CheckedContinuation<Instant, Never>]) in
                    if deadline <= s.now { return (.wake, [], []) }
                    if Task.isCancelled { return (.cancel, [], []) }
                    s.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    var below: [CheckedContinuation<Instant, Never>] = []
                    s.deadlineWatchers.removeAll { w in
                        guard deadline < w.bound else { return false }
                        below.append(w.continuation)
                        return true
                    }
                    return (.wait, Self.satisfiedWatchers(&s), below)
                }
                switch now {
                case .wake: continuation.resume()
                case .cancel: continuation.resume(throwing: CancellationError())
                case .wait:
                    for watcher in watchers { watcher.resume() }
                    for watcher in deadlineWatchers { watcher.resume(returning: deadline) }
                }
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock (and its wall time) forward by `duration` (a negative one is taken as zero) and
    /// wakes every sleeper whose deadline is reached, earliest deadline first.
    package func advance(by duration: Duration) {
        let step = max(duration, .zero)
        let woken = state.withLock { s -> [Sleeper] in
            s.now = s.now.advanced(by: step)
            s.wallNow = s.wallNow.addingTimeInterval(step / .seconds(1))
            let due = s.sleepers.filter { $0.value.deadline <= s.now }
            for id in due.keys { s.sleepers[id] = nil }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }

    /// Moves the clock forward to `instant` (nothing when it is not later), waking sleepers as ``advance(by:)``.
    package func advance(to instant: Instant) {
        advance(by: now.duration(to: instant))
    }

    /// Suspends until at least `count` tasks sleep on this clock: lets a test advance only once the code
    /// under test has gone to sleep, without waiting on real time.
    package func waitForSleepers(_ count: Int = 1) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                if s.sleepers.count >= count { return true }
                s.watchers.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// The earliest deadline of a task sleeping on this clock before `bound`, waiting until one
    /// sleeps so: the sign that the code under test has gone idle until then (e.g. the scheduler,
    /// beside a loop that sleeps much longer).
    package func nextDeadline(before bound: Instant) async -> Instant {
        await withCheckedContinuation { (continuation: CheckedContinuation<Instant, Never>) in
            let found = state.withLock { s -> Instant? in
                if let earliest = s.earliest(before: bound) { return earliest }
                s.deadlineWatchers.append((bound, continuation))
                return nil
            }
            if let found { continuation.resume(returning: found) }
        }
    }

    private static func satisfiedWatchers(_ s: inout State) -> [CheckedContinuation<Void, Never>] {
        let count = s.sleepers.count
        let satisfied = s.watchers.filter { $0.count <= count }.map(\.continuation)
        s.watchers.removeAll { $0.count <= count }
        return satisfied
    }
}

import MprefCore
import Synchronization

/// A many-producer, one-consumer buffer of events. Producers `post` without waiting; the single
/// consumer `take`s everything buffered at once, waiting (cancellation-aware) until something is
/// posted, a deadline passes, or the mailbox is closed. Taking in batches is what lets the poll
/// recorder commit many polls per transaction.
package final class Mailbox<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Element] = []
        var waiter: CheckedContinuation<Void, Never>?
        var isClosed = false
    }

    private let state = Mutex(State())

    package init() {}

    /// Adds `element` and wakes the consumer.
    package func post(_ element: Element) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.buffer.append(element)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Adds `element` and wakes the consumer, unless the mailbox is closed; whether it was added.
    /// For requests that someone waits to see answered: once closed, nobody will answer them.
    package func postUnlessClosed(_ element: Element) -> Bool {
        let (added, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
            guard !s.isClosed else { return (false, nil) }
            s.buffer.append(element)
            defer { s.waiter = nil }
            return (true, s.waiter)
        }
        waiter?.resume()
        return added
    }

    /// Marks the mailbox closed and wakes the consumer; later `take`s return at once.
    package func close() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.isClosed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Whether `close()` was called.
    package var isClosed: Bool { state.withLock { $0.isClosed } }

    /// Everything buffered (possibly nothing), without waiting.
    package func drain() -> [Element] {
        state.withLock { s in
            defer { s.buffer.removeAll(keepingCapacity: true) }
            return s.buffer
        }
    }

    /// Waits until something is buffered (or the mailbox is closed, or the task is cancelled), then drains.
    /// In a cancelled task it returns at once, possibly empty-handed, every time: a loop around it
    /// must end on `Task.isCancelled` (or it spins).
    package func take() async -> [Element] {
        await waitForPost()
        return drain()
    }

    /// Like `take()`, but also returns (possibly empty-handed) at `deadline` on the continuous clock.
    package func take(until deadline: ContinuousClock.Instant?) async -> [Element] {
        await take(until: deadline, on: ContinuousClock())
    }

    /// Like `take()`, but also returns (possibly empty-handed) at `deadline` on `clock` (a test's
    /// manual clock: when it is advanced past `deadline`).
    package func take<C: Clock>(until deadline: C.Instant?, on clock: C) async -> [Element] {
        guard let deadline else { return await take() }
        let ready = state.withLock { !$0.buffer.isEmpty || $0.isClosed }
        if ready || deadline <= clock.now { return drain() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForPost() }
            group.addTask { try? await clock.sleep(until: deadline, tolerance: clock.minimumResolution) }
            await group.next()
            group.cancelAll()
        }
        return drain()
    }

    private func waitForPost() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if !s.buffer.isEmpty || s.isClosed || Task.isCancelled { return true }
                    s.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }
}

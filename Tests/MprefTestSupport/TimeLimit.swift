import Synchronization

/// What a test waits for did not happen within its real-time bound.
package struct TimeLimitExceeded: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// `body`'s result; throws ``TimeLimitExceeded`` naming `what` when it takes longer than `limit` of
/// real time. The limit is a bound against hanging, far above what a correct run needs; the test
/// still waits on the event itself. `body` need not respond to cancellation: on a timeout it is
/// left behind (the test fails anyway).
package func withTimeLimit<T: Sendable>(
    _ limit: Duration, _ what: String, _ body: @escaping @Sendable () async -> T
) async throws -> T {
    try await firstOf(
        { Result<T, any Error>.success(await body()) },
        {
            try? await Task.sleep(for: limit)
            return Result<T, any Error>.failure(TimeLimitExceeded("timed out waiting for \(what)"))
        }
    ).get()
}

/// Whether `task` ends within `limit` of real time (its own result is not awaited past that).
package func ends(_ task: Task<Void, any Error>, within limit: Duration) async -> Bool {
    (try? await withTimeLimit(limit, "the task's end") { _ = await task.result }) != nil
}

/// The result of whichever of `a` and `b` ends first; the other is left behind (so neither needs to
/// respond to cancellation, as continuation-based waits often do not).
package func firstOf<T: Sendable>(
    _ a: @escaping @Sendable () async -> T, _ b: @escaping @Sendable () async -> T
) async -> T {
    let settled = Mutex(false)
    return await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        let settle = { @Sendable (value: T) in
            let isFirst = settled.withLock { done in
                defer { done = true }
                return !done
            }
            if isFirst { continuation.resume(returning: value) }
        }
        Task { settle(await a()) }
        Task { settle(await b()) }
    }
}

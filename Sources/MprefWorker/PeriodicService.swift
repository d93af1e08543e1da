import ServiceLifecycle

/// A service that runs `tick` every `interval` until its group shuts it down gracefully or cancels
/// it: the daemon's heartbeat, WAL checkpointer and housekeeping.
///
/// The first tick comes one `interval` after the start (what must happen at once is done before the
/// group starts). A graceful shutdown during the wait ends the service at once; one during a tick
/// lets that tick finish. The wait is on `clock`, so a test can drive the service with a manual clock.
package struct PeriodicService<C: Clock>: Service, CustomStringConvertible where C.Duration == Duration {
    /// The service's name in the group's log lines, e.g. `heartbeat`.
    package let description: String
    /// Time between the end of one tick and the start of the next.
    package let interval: Duration
    private let clock: C
    private let tick: @Sendable () async -> Void

    package init(_ name: String, every interval: Duration, clock: C, tick: @escaping @Sendable () async -> Void) {
        self.description = name
        self.interval = interval
        self.clock = clock
        self.tick = tick
    }

    package func run() async {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                // Throws on cancellation, and on a graceful shutdown (which cancels the wait).
                try await cancelWhenGracefulShutdown { [clock, interval] in try await clock.sleep(for: interval) }
            } catch {
                return
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            await tick()
        }
    }
}

extension PeriodicService where C == ContinuousClock {
    package init(_ name: String, every interval: Duration, tick: @escaping @Sendable () async -> Void) {
        self.init(name, every: interval, clock: ContinuousClock(), tick: tick)
    }
}

import Foundation
import Logging
import MprefStore
import MprefWorker
import MyPreferences
import ServiceLifecycle

/// Runs the real `Daemon` (scheduler, recorder, hook queue, heartbeat) in this process under a
/// `ServiceGroup`, exactly as `mprefd run` wires it, for the duration of `body`; then shuts it
/// down gracefully and waits for it.
enum DaemonHarness {
    static func account(clientID: String = "BENCH", baseURL: String) -> AccountConfiguration {
        AccountConfiguration(clientID: clientID, baseURL: baseURL)
    }

    static func withDaemon<T: Sendable>(
        configuration: WorkerConfiguration, database: TokenDatabase, logger: Logger,
        sources: [String: any StatusSource]? = nil,
        _ body: @Sendable () async throws -> T
    ) async throws -> T {
        let daemon = Daemon(
            configuration: configuration, database: database, logger: logger, version: "bench", sources: sources)
        let group = ServiceGroup(configuration: .init(services: [daemon], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            let result = try await body()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        }
    }
}

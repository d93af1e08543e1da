import Foundation
import MprefCore
import Logging
import MprefStore
import MprefWorker
import MyPreferences
import ServiceLifecycle

/// Runs the real `Daemon` (scheduler, recorder, hook queue, heartbeat) in this process under a
/// `ServiceGroup`, exactly as `mprefd run` wires it, for the duration of `body`; then shuts it
/// down gracefully and waits for it.
enum DaemonHarness {
    /// The benchmarks' account, `BENCH` (checked like any client ID; it follows the rule).
    static func clientID() throws -> ClientID {
        guard let id = ClientID("BENCH") else { throw BenchError("BENCH: \(ClientID.rule)") }
        return id
    }

    static func account(baseURL: String) throws -> AccountConfiguration {
        AccountConfiguration(clientID: try clientID(), baseURL: baseURL)
    }

    static func withDaemon<T: Sendable>(
        configuration: WorkerConfiguration, database: TokenDatabase, logger: Logger,
        sources: [ClientID: any StatusSource]? = nil,
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

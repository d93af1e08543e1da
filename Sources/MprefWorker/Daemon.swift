import Foundation
import Logging
import MprefCore
import MprefStore
import MyPreferences
import ServiceLifecycle
import Synchronization

/// `mprefd run`: the scheduler, the hook queue and the heartbeat, as one service.
///
/// On graceful shutdown (SIGTERM/SIGINT through `ServiceGroup`): no new polls start, in-flight polls
/// get `polling.shutdown_grace_s` and are then abandoned unrecorded, running hooks get SIGTERM and
/// `hooks.kill_grace_s` before SIGKILL and are re-queued; the stop is recorded and `run()` returns.
package final class Daemon: Service {
    private let configuration: WorkerConfiguration
    private let database: TokenDatabase
    private let logger: Logger
    private let version: String
    private let sources: [String: any StatusSource]?
    private let reloadAccount: (@Sendable (String) async throws -> AccountConfiguration)?
    /// Seconds between heartbeats written to the `daemon` table. Default 5 s.
    package let heartbeatInterval: Duration
    /// The running scheduler, for ``pollNow(tokenID:)``; `nil` before `run()` starts it and after it stops.
    private let scheduler = Mutex<PollingService?>(nil)

    /// - Parameters:
    ///   - sources: stand-ins for the HTTP clients, by client ID (tests); `nil` builds a
    ///     `MyPreferencesClient` per configured account.
    ///   - reloadAccount: reads an account's configuration afresh (the config file and its secret
    ///     files), by client ID; called when an operator lifts the account's pause, before its
    ///     tokens are polled again, so fixed credentials are used at once. `nil`: never re-read.
    package init(
        configuration: WorkerConfiguration, database: TokenDatabase, logger: Logger, version: String,
        heartbeatInterval: Duration = .seconds(5), sources: [String: any StatusSource]? = nil,
        reloadAccount: (@Sendable (String) async throws -> AccountConfiguration)? = nil
    ) {
        self.reloadAccount = reloadAccount
        self.configuration = configuration
        self.database = database
        self.logger = logger
        self.version = version
        self.heartbeatInterval = heartbeatInterval
        self.sources = sources
    }

    package func run() async throws {
        if !HookProcessRunner.becomeSubreaper() {
            logger.warning("cannot become a child subreaper; orphaned hook grandchildren are reaped by PID 1 instead")
        }
        var clients: [String: ReloadableSource] = [:]
        var targets: [String: PollTarget] = [:]
        for (clientID, account) in configuration.accounts {
            let source: any StatusSource
            var downloads: (any DownloadSource)?
            if let stand = sources?[clientID] {
                source = stand
                downloads = stand as? any DownloadSource
            } else {
                let client: ReloadableSource
                do {
                    client = try ReloadableSource(
                        configuration: account, logger: logger,
                        maxConnectionsPerHost: max(8, configuration.polling.maxInFlight))
                } catch {
                    // Those made before this one must be shut down first (AsyncHTTPClient traps otherwise).
                    await Task { [clients] in
                        for made in clients.values { await made.shutdown() }
                    }.value
                    throw error
                }
                clients[clientID] = client
                source = client
                downloads = client
            }
            targets[clientID] = PollTarget(
                source: source, hostKey: PollTarget.hostKey(of: account.baseURL), downloads: downloads,
                download: configuration.downloads[clientID] ?? DownloadSettings())
        }
        do {
            let startedAt = Date()
            let hostname = ProcessInfo.processInfo.hostName
            try await database.writeHeartbeat(pid: getpid(), version: version, hostname: hostname, startedAt: startedAt)

            let hooks = HookService(
                database: database, configuration: configuration.hooks, databasePath: configuration.databasePath,
                logger: logger)
            let recorder = PollRecorder(database: database, hooks: configuration.hooks, logger: logger)
            let schedules = SegmentSchedules(configuration: configuration.polling, database: database, logger: logger)
            let stuck = StuckWatch(
                database: database, schedules: schedules, factor: configuration.polling.stuckFactor,
                hooks: HookSelection(global: HookConfiguration.globalHooks(configuration.hooks)), logger: logger,
                onHookRunsQueued: { hooks.wake() })
            let expiry = ExpiryWatch(database: database, logger: logger)
            let polling = PollingService(
                database: database, targets: targets, configuration: configuration.polling, recorder: recorder,
                logger: logger, onHookRunsQueued: { hooks.wake() },
                beforeAccountLift: { [clients, reloadAccount, logger] clientID in
                    await Self.reloadCredentials(
                        of: clientID, in: clients[clientID], using: reloadAccount, logger: logger)
                }, schedules: schedules)
            scheduler.withLock { $0 = polling }
            defer { scheduler.withLock { $0 = nil } }
            let heartbeatStop = Mailbox<Void>()
            let checkpointer = WALCheckpointer(database: database, logger: logger)
            let pruner = RetentionPruner(database: database, retention: configuration.retention, logger: logger)
            let fileRetention = DeliveredFileRetention(
                database: database, days: configuration.downloads.mapValues(\.retentionDays), logger: logger)
            let descriptors = DescriptorWatch(logger: logger)
            logger.info(
                "mprefd started",
                metadata: [
                    "mprefd.version": "\(version)", "mprefd.pid": "\(getpid())", "db.path": "\(database.path)",
                    "sqlite.version": "\(SQLiteLibrary.version)",
                    "accounts": "\(configuration.accounts.keys.sorted().joined(separator: ","))",
                ])
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await polling.run() }
                    group.addTask { try await hooks.run() }
                    let unconfigured = UnconfiguredDeadlines(
                        database: database, configuration: configuration, logger: logger,
                        onHookRunsQueued: { hooks.wake() })
                    await unconfigured.check()
                    group.addTask {
                        [
                            database, logger, heartbeatInterval, version, checkpointer, descriptors, unconfigured,
                            pruner, fileRetention, stuck, expiry
                        ] in
                        // Ends on close or on cancellation (a cancelled `take` returns at once).
                        while !heartbeatStop.isClosed, !Task.isCancelled {
                            _ = await heartbeatStop.take(until: .now + heartbeatInterval)
                            if heartbeatStop.isClosed || Task.isCancelled { break }
                            do {
                                try await database.writeHeartbeat(
                                    pid: getpid(), version: version, hostname: hostname, startedAt: startedAt)
                            } catch {
                                logger.warning("cannot write the heartbeat", metadata: ["error": "\(error)"])
                            }
                            await checkpointer.checkIfNeeded()
                            await pruner.pruneIfDue()
                            await fileRetention.pruneIfDue()
                            descriptors.check()
                            await unconfigured.check()
                            await stuck.check()
                            await expiry.check()
                        }
                    }
                    // Whichever part fails first stops the others.
                    do {
                        try await group.next()
                        try await group.next()
                    } catch {
                        polling.requestShutdown()
                        hooks.requestShutdown()
                        heartbeatStop.close()
                        throw error
                    }
                    heartbeatStop.close()
                    try await group.waitForAll()
                }
            } onGracefulShutdown: {
                polling.requestShutdown()
                hooks.requestShutdown()
            }
        } catch {
            // A failure before or while the services run (the database refusing the heartbeat, a
            // schema that cannot be read): the clients are shut down before the error is reported;
            // AsyncHTTPClient traps on a client dropped while still running.
            await Task { [clients] in
                for client in clients.values { await client.shutdown() }
            }.value
            throw error
        }
        // Even when cancelled: the stop is recorded and the clients are shut down (in a task that
        // does not inherit the cancellation, which would refuse the database write).
        await Task { [clients, database] in
            for client in clients.values { await client.shutdown() }
            try? await database.markDaemonStopped()
        }.value
        logger.info("mprefd stopped")
    }

    /// Asks the scheduler to poll token row `tokenID` at once (a callback for its export arrived);
    /// see ``PollingService/pollNow(tokenID:)``. Returns at once: `false` when the daemon is not
    /// running (nothing was asked), `true` when the request was handed to the scheduler.
    @discardableResult
    package func pollNow(tokenID: TokenID) -> Bool {
        guard let polling = scheduler.withLock({ $0 }) else { return false }
        polling.pollNow(tokenID: tokenID)
        return true
    }

    /// Re-reads the credentials of `clientID` and polls with them from now on; logs the outcome.
    /// A failure (say, the secret file is still unreadable) keeps the old credentials.
    private static func reloadCredentials(
        of clientID: String, in source: ReloadableSource?,
        using reload: (@Sendable (String) async throws -> AccountConfiguration)?, logger: Logger
    ) async {
        guard let source, let reload else { return }
        do {
            let account = try await reload(clientID)
            try source.replaceCredentials(with: account.auth)
            logger.notice(
                "account pause lifted: its credentials were re-read", metadata: ["export.client_id": "\(clientID)"])
        } catch {
            logger.error(
                "account pause lifted, but its credentials cannot be re-read; polling with the old ones",
                metadata: [
                    "export.client_id": "\(clientID)", "error": "\(error)",
                ])
        }
    }
}

/// Applies the deadlines of tokens whose client ID has no configured account (never polled, so no
/// poll would apply them): with each heartbeat, those past their deadline become `timed_out` and
/// their `on_failure` hooks are queued. A failure is logged and tried again at the next heartbeat.
struct UnconfiguredDeadlines: Sendable {
    let database: TokenDatabase
    let configuredClientIDs: [String]
    let hooks: HookSelection
    let logger: Logger
    let onHookRunsQueued: @Sendable () -> Void

    init(
        database: TokenDatabase, configuration: WorkerConfiguration, logger: Logger,
        onHookRunsQueued: @escaping @Sendable () -> Void
    ) {
        self.database = database
        self.configuredClientIDs = Array(configuration.accounts.keys)
        let h = configuration.hooks
        self.hooks = HookSelection(global: HookConfiguration.globalHooks(h))
        self.logger = logger
        self.onHookRunsQueued = onHookRunsQueued
    }

    func check() async {
        do {
            let result = try await database.timeOutUnconfiguredTokens(
                configuredClientIDs: configuredClientIDs, hooks: hooks.planner)
            for token in result.timedOut {
                logger.info(
                    "export finished",
                    metadata: [
                        "token.id": "\(token.tokenID)", "export.client_id": "\(token.clientID)",
                        "export.access_token": "\(token.accessToken)",
                        "token.state": "timed_out",
                        "error": "\(TokenDatabase.unconfiguredTimeoutError(clientID: token.clientID))",
                    ])
            }
            if result.hookRuns > 0 { onHookRunsQueued() }
        } catch is CancellationError {
        } catch {
            logger.warning(
                "cannot apply the deadlines of tokens without a configured account; retrying",
                metadata: ["error": "\(error)"])
        }
    }
}

import Foundation
import Logging
import MprefCore
import MprefStore
import MyPreferences
import ServiceLifecycle
import UnixSignals
import Synchronization

/// `mprefd run`: the daemon's parts as services of one `ServiceGroup`.
///
/// In start order: the caller's services (`beside`: the metrics and callback endpoints), then the
/// heartbeat, the WAL checkpointer, housekeeping (retention, delivered-file retention, descriptor
/// watch, deadlines of unconfigured accounts, stuck and expiry watches), the hook queue, the poll
/// recorder and the scheduler. The group stops them in reverse, each after the one before it has
/// ended, so every producer stops before what it feeds: on graceful shutdown (SIGTERM/SIGINT/SIGHUP),
/// no new polls start and in-flight polls get `polling.shutdown_grace_s`, then are abandoned
/// unrecorded; the recorder commits what they handed it; running hooks get SIGTERM and
/// `hooks.kill_grace_s` before SIGKILL and are re-queued. A stop thus takes at most
/// `shutdown_grace_s + kill_grace_s`. A part that fails or ends on its own stops the others the same
/// way and its error is thrown. At the end the stop is recorded and the HTTP clients are shut down.
package final class Daemon: Service {
    private let configuration: WorkerConfiguration
    private let database: DaemonStore
    private let logger: Logger
    private let version: String
    private let sources: [ClientID: any StatusSource]?
    private let reloadAccount: (@Sendable (ClientID) async throws -> AccountConfiguration)?
    /// Seconds between heartbeats written to the `daemon` table. Default 5 s.
    package let heartbeatInterval: Duration
    /// The running scheduler, for ``pollNow(tokenID:)``; `nil` before `run()` starts it and after it stops.
    private let scheduler = Mutex<PollingService<ContinuousClock>?>(nil)

    /// - Parameters:
    ///   - sources: stand-ins for the HTTP clients, by client ID (tests); `nil` builds a
    ///     `MyPreferencesClient` per configured account.
    ///   - reloadAccount: reads an account's configuration afresh (the config file and its secret
    ///     files), by client ID; called when an operator lifts the account's pause, before its
    ///     tokens are polled again, so fixed credentials are used at once. `nil`: never re-read.
    package init(
        configuration: WorkerConfiguration, database: TokenDatabase, logger: Logger, version: String,
        heartbeatInterval: Duration = .seconds(5), sources: [ClientID: any StatusSource]? = nil,
        reloadAccount: (@Sendable (ClientID) async throws -> AccountConfiguration)? = nil
    ) {
        self.reloadAccount = reloadAccount
        self.configuration = configuration
        self.database = DaemonStore(database)
        self.logger = logger
        self.version = version
        self.heartbeatInterval = heartbeatInterval
        self.sources = sources
    }

    /// Runs the daemon's services alone until the enclosing group shuts it down gracefully (its own
    /// group follows a parent's graceful shutdown) or the task is cancelled; see
    /// ``run(beside:gracefulShutdownSignals:)``.
    package func run() async throws {
        try await run(beside: [], gracefulShutdownSignals: [])
    }

    /// Runs the daemon's services and `others` in one `ServiceGroup` until one of
    /// `gracefulShutdownSignals` arrives, a service fails or ends, or the task is cancelled.
    ///
    /// - Throws: the first error of a service (after the others were stopped gracefully), or one
    ///   from the start: an account's HTTP client that cannot be made, a database that refuses the
    ///   first heartbeat.
    package func run(
        beside others: [ServiceGroupConfiguration.ServiceConfiguration], gracefulShutdownSignals: [UnixSignal]
    ) async throws {
        if !HookProcessRunner.becomeSubreaper() {
            logger.warning("cannot become a child subreaper; orphaned hook grandchildren are reaped by PID 1 instead")
        }
        let (clients, targets) = try await makeTargets()
        do {
            let startedAt = Date()
            let heartbeat = Heartbeat(
                database: database, pid: getpid(), version: version, hostname: ProcessInfo.processInfo.hostName,
                startedAt: startedAt, logger: logger)
            try await heartbeat.write()

            let hooks = HookService(
                database: database, configuration: configuration.hooks, databasePath: configuration.databasePath,
                logger: logger, clock: ContinuousClock())
            let recorder = PollRecorder(database: database, hooks: configuration.hooks, logger: logger)
            let schedules = SegmentSchedules(configuration: configuration.polling, database: database, logger: logger)
            let polling = PollingService(
                database: database, targets: targets, configuration: configuration.polling, recorder: recorder,
                logger: logger, onHookRunsQueued: { hooks.wake() },
                beforeAccountLift: { [clients, reloadAccount, logger] clientID in
                    await Self.reloadCredentials(
                        of: clientID, in: clients[clientID], using: reloadAccount, logger: logger)
                }, schedules: schedules, clock: ContinuousClock())
            let housekeeping = Housekeeping(
                database: database, configuration: configuration, schedules: schedules, logger: logger,
                onHookRunsQueued: { hooks.wake() })
            let checkpointer = WALCheckpointer(database: database, logger: logger)
            await housekeeping.unconfigured.check()
            scheduler.withLock { $0 = polling }
            defer { scheduler.withLock { $0 = nil } }
            logger.info(
                "mprefd started",
                metadata: [
                    "mprefd.version": "\(version)", "mprefd.pid": "\(getpid())", "db.path": "\(database.path)",
                    "sqlite.version": "\(SQLiteLibrary.version)",
                    "accounts": "\(configuration.accounts.keys.sorted().map(\.value).joined(separator: ","))",
                ])
            let own: [any Service] = [
                PeriodicService("heartbeat", every: heartbeatInterval) { await heartbeat.beat() },
                PeriodicService("wal-checkpointer", every: heartbeatInterval) { await checkpointer.checkIfNeeded() },
                PeriodicService("housekeeping", every: heartbeatInterval) { await housekeeping.run() },
                hooks, recorder, polling,
            ]
            let group = ServiceGroup(
                configuration: .init(
                    services: others + own.map(ServiceGroupConfiguration.ServiceConfiguration.stoppingTheGroup),
                    gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
            try await group.run()
        } catch {
            // A failure at the start or of a service: the clients are shut down before the error is
            // reported.
            await Self.shutDown(clients.values)
            throw error
        }
        // Even when cancelled: the stop is recorded (in a task that does not inherit the
        // cancellation, which would refuse the database write).
        await Self.shutDown(clients.values)
        await Task { [database] in try? await database.markDaemonStopped() }.value
        logger.info("mprefd stopped")
    }

    /// Each configured account's poll target, with the HTTP client made for it (none for a stand-in).
    private func makeTargets() async throws -> (clients: [ClientID: ReloadableSource], targets: [ClientID: PollTarget])
    {
        var clients: [ClientID: ReloadableSource] = [:]
        var targets: [ClientID: PollTarget] = [:]
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
                    // Those made before this one must be shut down first.
                    await Self.shutDown(clients.values)
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
        return (clients, targets)
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

    /// Shuts `clients` down, also from a cancelled task (in a task the cancellation does not reach):
    /// AsyncHTTPClient traps on a client dropped while still running.
    private static func shutDown(_ clients: some Collection<ReloadableSource> & Sendable) async {
        await Task { for client in clients { await client.shutdown() } }.value
    }

    /// Re-reads the credentials of `clientID` and polls with them from now on; logs the outcome.
    /// A failure (say, the secret file is still unreadable) keeps the old credentials.
    private static func reloadCredentials(
        of clientID: ClientID, in source: ReloadableSource?,
        using reload: (@Sendable (ClientID) async throws -> AccountConfiguration)?, logger: Logger
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

extension ServiceGroupConfiguration.ServiceConfiguration {
    /// `service` as a part of the daemon's group: when it ends or fails, the group stops the others
    /// gracefully (and `run` throws the failure).
    package static func stoppingTheGroup(_ service: any Service) -> Self {
        .init(
            service: service, successTerminationBehavior: .gracefullyShutdownGroup,
            failureTerminationBehavior: .gracefullyShutdownGroup)
    }
}

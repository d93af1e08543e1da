import MprefCore
import ArgumentParser
import Foundation
import Logging
import MprefStore
import MprefWorker
import ServiceLifecycle
import UnixSignals

/// `mprefd run`: the long-running daemon.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: poll watched access tokens, record history, fire hooks.",
        discussion: """
            Reads the watched access tokens from the database, polls each export's status with \
            exponential backoff and jitter, honours 503 and Retry-After for the whole host, records \
            every poll in `polls`, and runs the configured hooks when an export finishes. Tokens \
            added, paused, resumed or removed with the admin commands are noticed within a second.

            Logs go to stderr, one line per event (log.format: logfmt or json); when stderr is a \
            pipe whose reader went away, lines are dropped (and counted), never fatal. SIGTERM, \
            SIGINT or SIGHUP stops it gracefully: no new polls, in-flight polls get \
            polling.shutdown_grace_s, running hooks get SIGTERM and hooks.kill_grace_s; then it \
            exits 0. SIGHUP does not reload: restart it to apply a changed configuration.

            With callbacks.listen set, it also serves the export-complete callbacks that \
            `mprefd export` asks MyPreferences for: a POST to <callbacks.public_url>/<id> makes it \
            poll that export's token at once (the body is never trusted; see README "Callbacks").

            Exits 75 when another `mprefd run` already runs on the same database file, by whatever path \
            (symlink, hard link) it reaches it (its PID is named), \
            78 on a configuration error (also a metrics.listen or callbacks.listen address it \
            cannot listen on), 69 \
            when the database cannot be used, 70 when a part of it fails while running (the \
            others are stopped gracefully first; the error is named).

            Example (systemd runs it the same way):
              mprefd run --config /etc/mprefd/mprefd.yaml
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        // A log reader that went away (`| tee`, `| logger`) must not kill the daemon: writes to a
        // closed pipe fail with EPIPE instead (StderrLogHandler drops and counts the line). Hooks
        // get the default disposition back (swift-subprocess resets every signal in the child).
        signal(SIGPIPE, SIG_IGN)
        let configuration = try await global.loadConfiguration(readingSecretFiles: true)
        guard !configuration.accounts.isEmpty else {
            throw MprefdError.configuration(
                "no accounts configured\(configuration.filePath.map { " in \($0)" } ?? " (no config file found; pass --config)"); add one under `accounts:` (see etc/mprefd.yaml.example)"
            )
        }
        StderrLogHandler.bootstrap(level: configuration.logLevel, format: configuration.logFormat)
        let logger = Logger(label: "mprefd")
        // The lock is on the database file itself: taken before the database is opened (opening
        // migrates, and a second daemon reaching the file by a hard link would write its own -wal).
        // A file that does not exist yet is created by the open and locked right after.
        let path = global.databaseLocation(configuration).path
        var lock = FileManager.default.fileExists(atPath: path) ? try Self.lock(path) : nil
        let database = try global.openDatabase(configuration, mode: .readWrite)
        if lock == nil { lock = try Self.lock(database.path) }
        // metrics.listen must be usable before polling starts: a configuration error (exit 78, which
        // systemd does not restart), not a failure after polling began. Checked once the lock is
        // ours, so that a second daemon is told that instead (exit 75).
        if let listen = configuration.metricsListen, let problem = MetricsEndpoint.bindProblem(listen) {
            throw MprefdError.configuration(
                "metrics.listen \(listen) cannot be listened on: \(problem.reason); choose another HOST:PORT, or set metrics.listen: \"\" to turn metrics off"
            )
        }
        if let callbacks = configuration.callbacks, let problem = MetricsEndpoint.bindProblem(callbacks.listen) {
            throw MprefdError.configuration(
                "callbacks.listen \(callbacks.listen) cannot be listened on: \(problem.reason); choose another HOST:PORT, or set callbacks.listen: \"\" to turn callbacks off"
            )
        }
        // On `mprefd resume --account`, the account's credentials are read afresh (config file and
        // secret files), so a fixed secret file is used at once.
        let location = global.configLocation
        let daemon = Daemon(
            configuration: configuration.workerConfiguration(databasePath: database.path),
            database: database, logger: logger, version: MprefVersion.current,
            reloadAccount: { clientID in
                let reloaded = try await ConfigurationLoader(readsSecretFiles: true).load(
                    path: location.path, isExplicit: location.isExplicit)
                guard let account = reloaded.accounts[clientID] else {
                    throw MprefdError.configuration("account \(clientID) is no longer in the configuration")
                }
                return account
            })
        // The endpoints join the daemon's own services in its one group. A service that fails or
        // ends stops the others gracefully (the daemon records its stop, re-queues running hooks),
        // and `run` exits 70 with that service's error.
        var endpoints: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let listen = configuration.metricsListen {
            endpoints.append(
                .stoppingTheGroup(
                    MetricsEndpoint.bootstrap(address: listen, database: database, logger: logger).service()))
        }
        if let callbacks = configuration.callbacks {
            endpoints.append(
                .stoppingTheGroup(
                    CallbackEndpoint(configuration: callbacks, database: database, daemon: daemon, logger: logger)
                        .service()))
        }
        do {
            // SIGHUP (a closed terminal, `kill -HUP`) is a clean stop too; there is nothing to reload.
            try await daemon.run(beside: endpoints, gracefulShutdownSignals: [.sigterm, .sigint, .sighup])
        } catch {
            let message = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            logger.critical("mprefd stopped on an error", metadata: ["error": "\(message)"])
            throw MprefdError(exitCode: ExitCode.software, message)
        }
        withExtendedLifetime(lock) {}
    }

    /// Takes the single-instance lock on the database file; exit 75 naming the running daemon.
    private static func lock(_ path: String) throws -> DaemonLock {
        do {
            return try DaemonLock(databasePath: path)
        } catch let failure as DaemonLock.Failure {
            throw MprefdError(exitCode: ExitCode.temporaryFailure, failure.description)
        }
    }
}

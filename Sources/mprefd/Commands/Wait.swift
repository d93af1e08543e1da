import ArgumentParser
import Foundation
import MprefStore
import MprefWorker
import MprefCore

/// `mprefd wait`: blocks until watched tokens finish, reading the database the daemon writes.
struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until access tokens reach a terminal state (for cron jobs and ETL tasks).",
        discussion: """
            Reads the database the daemon writes (read-only, a few indexed lookups every --interval); \
            it never calls the MyPreferences API itself, so `mprefd run` must be running. On a terminal \
            it shows one live progress line; otherwise it prints a line whenever a token's state or \
            status changes, e.g. `ACME_Co/1001 complete Complete rows=1200 bytes=4500000`.

            complete and retrieved count as success (the export's data was fetched either way). \
            failed, expired, timed_out (the token's deadline passed) and removed count as failure. \
            A paused token is still waited for. A token whose client ID has no configured account \
            is not polled: it is named on stderr and ends timed_out at its deadline. Tokens that \
            are all finished already give their result even when no daemon runs.

            Exit codes:
              0    every token complete or retrieved
              1    a token failed, expired, timed out or was removed (also when
                   --timeout ends the wait after such a failure was seen)
              2    --timeout passed with tokens still unfinished
              3    the daemon is not running: nothing holds its lock when the
                   wait starts, or later the lock is released and the last
                   heartbeat grows older than --stale-after (a restart within
                   that time is waited through); also no database at all
              64   a bad value; an access token not in the database (add it
                   first with `mprefd add-token`); or one under several client
                   IDs without --client-id
              130  interrupted (SIGINT)

            Examples:
              mprefd add-token --client-id ACME_Co "$T" && mprefd wait "$T" &&
                load-export "$T"
              mprefd wait 1001 1002 --timeout 2h --interval 10s
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(
        help: ArgumentHelp("Access tokens to wait for.", valueName: "access-token"),
        transform: AccessToken.parseArgument)
    var accessTokens: [AccessToken] = []

    @Option(
        name: .customLong("client-id"),
        help: ArgumentHelp("The client ID, when an access token exists under several.", valueName: "id"),
        transform: ClientID.parseArgument)
    var clientID: ClientID?

    @Option(
        help: ArgumentHelp(
            "Give up after this long (exit 2), e.g. 90s, 45m, 2h, 1d12h. Default: wait forever.", valueName: "duration"),
        transform: DurationArgument.parse)
    var timeout: DurationArgument?

    @Option(
        help: ArgumentHelp("How often to read the database, e.g. 1s, 30s. Default: 1s.", valueName: "duration"),
        transform: DurationArgument.parse)
    var interval: DurationArgument = DurationArgument(seconds: 1, text: "1s")

    @Option(
        name: .customLong("stale-after"),
        help: ArgumentHelp(
            "Seconds after which a released lock's last heartbeat means the daemon is gone.", valueName: "seconds"))
    var staleAfter: Double = DaemonHealth.defaultStaleAfterSeconds

    func validate() throws {
        guard !accessTokens.isEmpty else { throw ValidationError("no access token given; e.g. `mprefd wait 123456`") }
        guard staleAfter.isFinite, staleAfter > 0 else {
            throw ValidationError("bad --stale-after \(staleAfter): give a number of seconds > 0")
        }
    }

    func run() async throws {
        let tokens = AccessToken.unique(accessTokens)
        let clientID = self.clientID
        let timeoutSeconds = timeout?.seconds
        let intervalSeconds = interval.seconds
        let configuration = try await global.loadConfiguration()
        let database: ReportStore
        do {
            database = ReportStore(try global.openDatabase(configuration, mode: .readOnly))
        } catch let error as StoreError where error.code == .databaseMissing || error.code == .directoryMissing {
            throw MprefdError(
                exitCode: ExitCode.notRunning, "\(error.message) (so no daemon runs on it, and no token was added)")
        }
        let records = try Self.resolve(tokens, clientID: clientID, in: database)
        // Say why a token will not move: its client ID has no configured account, so the daemon
        // does not poll it (unknowable when this configuration names no accounts).
        if !configuration.accounts.isEmpty {
            for record in records
            where record.state == .watching && ClientID(record.clientID).flatMap { configuration.accounts[$0] } == nil {
                Output.note(
                    "\(record.clientID)/\(record.accessToken) is not polled: no account is configured for client ID \(record.clientID); "
                        + (record.deadlineAt.map { "it times out at its deadline, \($0)" }
                            ?? "it has no deadline, so only --timeout ends this wait"))
            }
        }

        let clock = ContinuousClock()
        let start = clock.now
        let deadline = timeoutSeconds.map { start + .seconds($0) }
        var display = WaitDisplay()
        var isFirstRound = true
        while true {
            let snapshot = try database.waitSnapshot(tokenIDs: records.map(\.id))
            let progress = WaitProgress(expected: records, found: snapshot.tokens)
            display.show(progress, elapsed: clock.now - start)
            if progress.isFinished {
                display.finish()
                Output.line(progress.summary)
                if !progress.failures.isEmpty {
                    throw MprefdError(exitCode: ExitCode.failure, progress.failureMessage)
                }
                return
            }
            let health = DaemonHealth.assess(
                lock: DaemonLock.holder(databasePath: database.path), record: snapshot.daemon,
                now: Date(), staleAfterSeconds: staleAfter)
            if !health.isLockHeld, isFirstRound || health.isHeartbeatStale {
                display.finish()
                let reason = health.reason ?? "the daemon is not running"
                throw MprefdError(
                    exitCode: ExitCode.notRunning,
                    (isFirstRound ? "" : "stopped waiting: ") + reason + "; \(progress.unfinishedSummary)")
            }
            display.daemonNote = health.isLockHeld ? nil : "daemon not running"
            isFirstRound = false
            var pause = Duration.seconds(intervalSeconds)
            if let deadline {
                let remaining = deadline - clock.now
                if remaining <= .zero {
                    display.finish()
                    let limit = timeout?.text ?? ""
                    if !progress.failures.isEmpty {
                        throw MprefdError(
                            exitCode: ExitCode.failure,
                            "timed out after \(limit); " + progress.failureMessage + "; \(progress.unfinishedSummary)")
                    }
                    throw MprefdError(
                        exitCode: ExitCode.waitTimedOut, "timed out after \(limit): \(progress.unfinishedSummary)")
                }
                pause = min(pause, remaining)
            }
            try await Task.sleep(for: pause)
        }
    }

    /// One row per access token; an unknown token is a usage error (exit 64), not "not found".
    private static func resolve(_ tokens: [AccessToken], clientID: ClientID?, in database: ReportStore) throws
        -> [TokenRecord]
    {
        try TokenSelection.lookUp(tokens, clientID: clientID, in: database) { token in
            let under = clientID.map { " under client ID \($0)" } ?? ""
            return MprefdError.usage(
                "access token \(token) is not in the database\(under); add it first with `mprefd add-token`")
        }
    }
}

import ArgumentParser
import Foundation
import MprefCore
import MprefStore
import MprefWorker
import MyPreferences

/// `mprefd status`: whether the daemon runs, and what it has to do; a monitoring check.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show whether the daemon runs, its database, tokens by state, pauses and hook runs.",
        discussion: """
            The daemon is running when it holds the single-instance lock (a flock on the database \
            file itself; <database>.lock only notes its PID), its \
            heartbeat in the `daemon` table (written every 5 s) is at most --stale-after seconds \
            old, and it has not recorded a clean stop. Opens the database read-only. Times are UTC.

            Usable as a monitoring check (Nagios/Icinga, systemd, cron):
              0   running and healthy
              4   running but degraded: at least half of the polls of the
                  last 10 minutes failed (10 polls or more), a dead hook run,
                  or watched tokens not being polled (no account configured
                  for their client ID, or more than 5 minutes overdue without
                  a host or account pause); each problem is shown
              3   not running: nothing holds the lock, a stale heartbeat (a
                  hung daemon), a recorded stop, or no database at all (exit
                  3, not 69: no daemon can be running without its database)
            Other failures keep the codes of `mprefd --help` (e.g. 75 database
            locked, 78 configuration error).

            Examples:
              mprefd status
              mprefd status --json | jq '.tokens.watching'
              mprefd status --stale-after 60 >/dev/null || alert "mprefd down"
            """)

    @OptionGroup var global: GlobalOptions

    @Option(
        name: .customLong("stale-after"),
        help: ArgumentHelp(
            "Seconds after which the heartbeat counts as stale (the daemon writes one every 5 s).", valueName: "seconds"
        ))
    var staleAfter: Double = DaemonHealth.defaultStaleAfterSeconds

    @Flag(help: "Print the status as one JSON object (keys in snake_case; absent values are null).")
    var json = false

    func validate() throws {
        guard staleAfter.isFinite, staleAfter > 0 else {
            throw ValidationError("bad --stale-after \(staleAfter): give a number of seconds > 0")
        }
    }

    func run() async throws {
        let configuration = try await global.loadConfiguration()
        let path = global.databaseLocation(configuration).path
        let now = Date()
        let report: StatusReport
        do {
            let database = ReportStore(try global.openDatabase(configuration, mode: .readOnly))
            let snapshot = try database.statusSnapshot(now: now)
            let health = DaemonHealth.assess(
                lock: DaemonLock.holder(databasePath: database.path), record: snapshot.daemon,
                now: now, staleAfterSeconds: staleAfter)
            let accountHosts = configuration.accountHosts
            var full = StatusReport(
                health: health, path: database.path, size: database.sizeOnDisk(), snapshot: snapshot,
                now: now, staleAfterSeconds: staleAfter, accountHosts: accountHosts,
                unusableRows: try database.unusableWatchingRows())
            // Without configured accounts (no config file read) nothing can be said about them.
            if !configuration.accounts.isEmpty {
                full.notPolled = try database.watchingTokensWithoutAccount(configuredClientIDs: configuration.clientIDs)
            }
            if full.tokens[TokenState.downloading.rawValue, default: 0] > 0 {
                let byID = Dictionary(try database.listTokens(state: .downloading).map { ($0.id, $0) }) { first, _ in
                    first
                }
                full.downloads = try database.downloadsInProgress().values.sorted { $0.tokenID < $1.tokenID }.compactMap
                { checkpoint in
                    byID[checkpoint.tokenID].map { StatusReport.Download(token: $0, checkpoint: checkpoint) }
                }
                // A download that waits (disk full, failing requests) is something an operator should see.
                let stalled = full.downloads.filter { $0.lastError != nil }
                if full.running, !stalled.isEmpty {
                    full.problems.append(
                        "\(stalled.count) download(s) not progressing: "
                            + Self.firstFew(stalled, separator: "; ") {
                                "\($0.clientID)/\($0.accessToken): \($0.lastError ?? "")"
                            })
                    full.degraded = true
                }
            }
            full.stuckExports = try await database.watchingSegmentTokens(stuckOnly: true).map {
                StatusReport.Stuck(
                    clientID: $0.clientID.value, accessToken: $0.accessToken, segment: $0.segment.value,
                    stuckAt: $0.stuckAt ?? "")
            }
            if !full.stuckExports.isEmpty {
                full.problems.append(
                    "\(full.stuckExports.count) export(s) stuck (processing far beyond their segment's usual duration): "
                        + Self.firstFew(full.stuckExports) {
                            "\($0.clientID)/\($0.accessToken) (\(TerminalText.escaped($0.segment)))"
                        }
                        + "; check them in MyPreferences, `mprefd remove` one to give up on it")
                full.degraded = full.running || full.degraded
            }
            // The daemon's rule (`ExpiryRule`): downloading or download_failed, `Expires` within the hour; soonest first.
            full.expiringExports = try await database.tokensWithExpiry(in: ExpiryRule.undeliveredStates)
                .compactMap { token in
                    ExpiryRule.secondsLeft(state: token.state, expires: token.expires, now: now).map { (token, $0) }
                }
                .sorted { $0.1 < $1.1 }
                .map {
                    StatusReport.Expiring(clientID: $0.0.clientID, accessToken: $0.0.accessToken, expires: $0.0.expires)
                }
            if !full.expiringExports.isEmpty {
                full.problems.append(
                    "\(full.expiringExports.count) complete export(s) expire within the hour (or have expired) and are not delivered yet: "
                        + Self.firstFew(full.expiringExports) { "\($0.clientID)/\($0.accessToken) at \($0.expires)" }
                        + "; see their downloads with `mprefd show` (a download_failed one: `mprefd download --retry`)")
                full.degraded = full.running || full.degraded
            }
            full.unsettledExports = try database.unsettledExports().map(UnsettledExport.init)
            // An `unknown` export needs an operator; so does a `sending` one whose command is gone.
            let stuck = full.unsettledExports.filter { !$0.beingSent }
            if !stuck.isEmpty {
                full.problems.append(
                    "\(stuck.count) export(s) may have started without a known access token: "
                        + Self.firstFew(stuck) { "export \($0.exportID) (\($0.clientID)/\($0.segment))" }
                        + "; `mprefd export --resolve ID TOKEN` or `mprefd export --abandon ID`")
                full.degraded = full.running || full.degraded
            }
            report = full
        } catch let error as StoreError where error.code == .databaseMissing || error.code == .directoryMissing {
            report = StatusReport(missingDatabaseAt: path, reason: error.message, staleAfterSeconds: staleAfter)
        }
        if json {
            try Output.json(report)
        } else {
            Output.line(report.lines(now: now).joined(separator: "\n"))
        }
        if !report.running {
            throw ExitCode.notRunning
        }
        if report.degraded {
            throw ExitCode.degraded
        }
    }

    /// The first three of `items` rendered and joined, then `… and N more` when there are more:
    /// a problem line names what it counts without growing with it.
    static func firstFew<T>(_ items: [T], separator: String = ", ", _ render: (T) -> String) -> String {
        let shown = items.prefix(3).map(render).joined(separator: separator)
        return items.count > 3 ? shown + separator + "… and \(items.count - 3) more" : shown
    }
}

import Foundation
import MprefCore
import MprefStore

/// `mprefd status` output: the human lines and the `--json` object.
struct StatusReport: Encodable {
    struct DatabaseInfo: Encodable {
        var path: String
        var exists: Bool
        /// The database file plus its `-wal` file, bytes.
        var sizeBytes: Int64
        var fileBytes: Int64
        var walBytes: Int64

        enum CodingKeys: String, CodingKey {
            case path, exists
            case sizeBytes = "size_bytes"
            case fileBytes = "file_bytes"
            case walBytes = "wal_bytes"
        }
    }

    struct Pause: Encodable {
        /// `host` or `account`.
        var scope: PauseScope
        var subject: String
        var pausedUntil: String
        var startedAt: String
        var reason: String
        var httpStatus: Int?
        var retryAfterS: Double?

        enum CodingKeys: String, CodingKey {
            case scope, subject, reason
            case pausedUntil = "paused_until"
            case startedAt = "started_at"
            case httpStatus = "http_status"
            case retryAfterS = "retry_after_s"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(scope, forKey: .scope)
            try c.encode(subject, forKey: .subject)
            try c.encode(pausedUntil, forKey: .pausedUntil)
            try c.encode(startedAt, forKey: .startedAt)
            try c.encode(reason, forKey: .reason)
            try c.encode(httpStatus, forKey: .httpStatus)
            try c.encode(retryAfterS, forKey: .retryAfterS)
        }
    }

    var running: Bool
    var reason: String?
    var lockHeld: Bool
    var pid: Int?
    var version: String?
    var hostname: String?
    var startedAt: String?
    /// Seconds since `startedAt`, while running.
    var uptimeS: Double?
    var heartbeatAt: String?
    var heartbeatAgeS: Double?
    var staleAfterS: Double
    var stoppedAt: String?
    var database: DatabaseInfo
    /// Every token state, zero included.
    var tokens: [String: Int]
    var nextPollAt: String?
    var pauses: [Pause]
    /// Every hook run state, zero included.
    var hookRuns: [String: Int]
    /// Watching tokens whose rows the daemon cannot use (edited by hand): kept, not polled. A running
    /// daemon with any is degraded (exit 4): those exports are not being watched.
    var unusableRows: [TokenRowDefect] = []
    /// Polls recorded in the last 10 minutes, those without a usable status, and their share (`nil`: no polls).
    var recentPolls = 0
    var recentErrors = 0
    var errorRate: Double?
    /// Watching tokens not being polled (no configured account, or overdue without a pause).
    var tokensNotPolled = 0
    /// Running, but with problems (``StatusProblems``): exit 4.
    var degraded = false
    var problems: [String] = []
    /// Watching tokens by client ID, for client IDs that have no configured account: never polled
    /// (they time out at their deadline). Empty when the configuration names no accounts.
    var notPolled: [String: Int] = [:]

    static let hookRunStates = HookRunState.allCases.map(\.rawValue)

    /// A download in progress (`downloads_in_progress`).
    struct Download: Encodable {
        var clientID: String
        var accessToken: AccessToken
        var phase: String
        var records: Int64
        var totalResults: Int64?
        var bytes: Int64
        var lastError: String?
        var progress: String

        enum CodingKeys: String, CodingKey {
            case phase, records, bytes
            case clientID = "client_id"
            case accessToken = "access_token"
            case totalResults = "total_results"
            case lastError = "last_error"
        }

        init(token: TokenRecord, checkpoint: DownloadCheckpoint) {
            clientID = token.clientID
            accessToken = token.accessToken
            phase = checkpoint.phase.rawValue
            records = checkpoint.records
            totalResults = checkpoint.totalResults
            bytes = checkpoint.bytes
            lastError = checkpoint.lastError ?? token.lastError
            progress = DownloadDisplay.progress(checkpoint)
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(clientID, forKey: .clientID)
            try c.encode(accessToken, forKey: .accessToken)
            try c.encode(phase, forKey: .phase)
            try c.encode(records, forKey: .records)
            try c.encode(totalResults, forKey: .totalResults)
            try c.encode(bytes, forKey: .bytes)
            try c.encode(lastError, forKey: .lastError)
        }
    }
    /// Downloads in progress (tokens in state `downloading`), by token id.
    var downloads: [Download] = []
    /// Exports that may have started without a known access token (`unsettled_exports`).
    var unsettledExports: [UnsettledExport] = []
    /// Watching tokens a stuck warning was raised for (`stuck_exports`).
    var stuckExports: [Stuck] = []
    /// Complete exports not delivered yet whose `Expires` is less than an hour away (`expiring_exports`).
    var expiringExports: [Expiring] = []

    /// A complete, undelivered export about to expire (`tokens.expires`, the API/3 status form).
    struct Expiring: Encodable {
        var clientID: String
        var accessToken: AccessToken
        var expires: String

        enum CodingKeys: String, CodingKey {
            case clientID = "client_id", accessToken = "access_token", expires
        }
    }

    /// A token still processing far beyond its segment's usual duration (`tokens.stuck_at`).
    struct Stuck: Encodable {
        var clientID: String
        var accessToken: AccessToken
        var segment: String
        var stuckAt: String

        enum CodingKeys: String, CodingKey {
            case clientID = "client_id", accessToken = "access_token", segment, stuckAt = "stuck_at"
        }
    }

    enum CodingKeys: String, CodingKey {
        case running, reason, pid, version, hostname, database, tokens, pauses
        case lockHeld = "lock_held"
        case startedAt = "started_at"
        case uptimeS = "uptime_s"
        case heartbeatAt = "heartbeat_at"
        case heartbeatAgeS = "heartbeat_age_s"
        case staleAfterS = "stale_after_s"
        case stoppedAt = "stopped_at"
        case nextPollAt = "next_poll_at"
        case hookRuns = "hook_runs"
        case unusableRows = "unusable_rows"
        case recentPolls = "polls_10m"
        case recentErrors = "failed_polls_10m"
        case errorRate = "error_rate_10m"
        case tokensNotPolled = "tokens_not_polled"
        case degraded, problems
        case notPolled = "not_polled"
        case downloads = "downloads_in_progress"
        case unsettledExports = "unsettled_exports"
        case stuckExports = "stuck_exports"
        case expiringExports = "expiring_exports"
    }

    init(
        health: DaemonHealth, path: String, size: (database: Int64, wal: Int64), snapshot: StatusSnapshot, now: Date,
        staleAfterSeconds: Double,
        accountHosts: [String: String] = [:], unusableRows: [TokenRowDefect] = []
    ) {
        running = health.isRunning
        reason = health.reason
        lockHeld = health.isLockHeld
        pid = health.pid
        version = health.record?.version
        hostname = health.record?.hostname
        startedAt = health.record?.startedAt
        uptimeS =
            health.isRunning
            ? health.record.flatMap { Timestamp.parse($0.startedAt) }.map {
                max(0, (now.timeIntervalSince($0) * 1000).rounded() / 1000)
            }
            : nil
        heartbeatAt = health.record?.heartbeatAt
        heartbeatAgeS = health.heartbeatAgeSeconds.map { ($0 * 1000).rounded() / 1000 }
        staleAfterS = staleAfterSeconds
        stoppedAt = health.record?.stoppedAt
        database = DatabaseInfo(
            path: path, exists: true, sizeBytes: size.database + size.wal, fileBytes: size.database, walBytes: size.wal)
        tokens = Dictionary(
            uniqueKeysWithValues: TokenState.allCases.map { ($0.rawValue, snapshot.tokenCounts[$0.rawValue] ?? 0) })
        nextPollAt = snapshot.nextPollAt
        pauses = snapshot.pauses.map {
            Pause(
                scope: $0.scope, subject: $0.subject, pausedUntil: Timestamp.format($0.pausedUntil),
                startedAt: Timestamp.format($0.startedAt),
                reason: $0.reason, httpStatus: $0.httpStatus, retryAfterS: $0.retryAfterS)
        }
        hookRuns = Dictionary(uniqueKeysWithValues: Self.hookRunStates.map { ($0, snapshot.hookRunCounts[$0] ?? 0) })
        let problems = StatusProblems(snapshot: snapshot, accountHosts: accountHosts)
        recentPolls = problems.recentPolls
        recentErrors = problems.recentErrors
        errorRate = problems.errorRate.map { ($0 * 10_000).rounded() / 10_000 }
        tokensNotPolled = problems.unconfiguredTokens + problems.overdueTokens
        self.unusableRows = unusableRows
        var described = problems.descriptions
        if !unusableRows.isEmpty {
            described.append(
                "\(unusableRows.count) watching token row(s) cannot be used and are not polled; `mprefd show TOKEN` says how to repair each"
            )
        }
        self.problems = health.isRunning ? described : []
        degraded = !self.problems.isEmpty
    }

    init(missingDatabaseAt path: String, reason: String, staleAfterSeconds: Double) {
        running = false
        self.reason = "the daemon is not running: \(reason)"
        lockHeld = false
        staleAfterS = staleAfterSeconds
        database = DatabaseInfo(path: path, exists: false, sizeBytes: 0, fileBytes: 0, walBytes: 0)
        tokens = [:]
        pauses = []
        hookRuns = [:]
    }

    func encode(to encoder: any Encoder) throws {
        // Every key always present (null when unknown), so monitoring scripts can rely on the shape.
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(running, forKey: .running)
        try c.encode(reason, forKey: .reason)
        try c.encode(lockHeld, forKey: .lockHeld)
        try c.encode(pid, forKey: .pid)
        try c.encode(version, forKey: .version)
        try c.encode(hostname, forKey: .hostname)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(uptimeS, forKey: .uptimeS)
        try c.encode(heartbeatAt, forKey: .heartbeatAt)
        try c.encode(heartbeatAgeS, forKey: .heartbeatAgeS)
        try c.encode(staleAfterS, forKey: .staleAfterS)
        try c.encode(stoppedAt, forKey: .stoppedAt)
        try c.encode(database, forKey: .database)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(nextPollAt, forKey: .nextPollAt)
        try c.encode(pauses, forKey: .pauses)
        try c.encode(hookRuns, forKey: .hookRuns)
        try c.encode(unusableRows, forKey: .unusableRows)
        try c.encode(recentPolls, forKey: .recentPolls)
        try c.encode(recentErrors, forKey: .recentErrors)
        try c.encode(errorRate, forKey: .errorRate)
        try c.encode(tokensNotPolled, forKey: .tokensNotPolled)
        try c.encode(degraded, forKey: .degraded)
        try c.encode(problems, forKey: .problems)
        try c.encode(notPolled, forKey: .notPolled)
        try c.encode(downloads, forKey: .downloads)
        try c.encode(unsettledExports, forKey: .unsettledExports)
        try c.encode(stuckExports, forKey: .stuckExports)
        try c.encode(expiringExports, forKey: .expiringExports)
    }

    /// Aligned `key: value` lines.
    func lines(now: Date) -> [String] {
        func or(_ text: String?) -> String { text ?? "-" }
        func counts(_ values: [String: Int], order: [String], always: Set<String>) -> String {
            let parts = order.compactMap { key -> String? in
                let n = values[key] ?? 0
                return n > 0 || always.contains(key) ? "\(key) \(n)" : nil
            }
            return parts.isEmpty ? "none" : parts.joined(separator: ", ")
        }
        func relative(_ timestamp: String?) -> String {
            guard let timestamp else { return "-" }
            guard let date = Timestamp.parse(timestamp) else { return timestamp }
            let delta = date.timeIntervalSince(now)
            return delta >= 0
                ? "\(timestamp) (in \(DaemonHealth.format(duration: delta)))"
                : "\(timestamp) (\(DaemonHealth.format(duration: -delta)) ago)"
        }
        var fields: [(String, String)] = [
            ("daemon", running ? (degraded ? "running, DEGRADED" : "running") : "NOT RUNNING")
        ]
        for problem in problems { fields.append(("problem", problem)) }
        if let reason { fields.append(("reason", reason)) }
        fields += [
            ("pid", or(pid.map(String.init))),
            ("version", or(version)),
            ("hostname", or(hostname)),
            ("started", or(startedAt)),
            ("uptime", or(uptimeS.map { DaemonHealth.format(duration: $0) })),
            ("heartbeat", relative(heartbeatAt)),
        ]
        if let stoppedAt { fields.append(("stopped", stoppedAt)) }
        fields.append(("database", database.path + (database.exists ? "" : " (missing)")))
        if database.exists {
            fields.append(
                ("database size", "\(database.sizeBytes) bytes (file \(database.fileBytes) + WAL \(database.walBytes))")
            )
            fields.append(("tokens", counts(tokens, order: TokenState.allCases.map(\.rawValue), always: ["watching"])))
            var nextPoll = relative(nextPollAt)
            // A token held back by a host or account pause keeps its planned (now past) next_poll_at.
            if !pauses.isEmpty, let planned = nextPollAt.flatMap(Timestamp.parse), planned < now {
                nextPoll += "; tokens of a paused host or account wait for the pause below"
            }
            fields.append(("next poll", nextPoll))
            if !notPolled.isEmpty {
                let total = notPolled.values.reduce(0, +)
                let list = notPolled.keys.sorted().map { "\($0) \(notPolled[$0] ?? 0)" }.joined(separator: ", ")
                fields.append(
                    (
                        "no account",
                        "\(total) watching token\(total == 1 ? "" : "s") of client IDs without a configured account (not polled; they time out at their deadline): \(list)"
                    ))
                fields.append(
                    (
                        "",
                        "add the account back to the configuration, or `mprefd remove` them; until then each times out at its deadline"
                    ))
            }
            let hostPauses = pauses.filter { $0.scope == .host }
            let accountPauses = pauses.filter { $0.scope != .host }
            func describe(_ pause: Pause) -> String {
                "\(pause.subject) until \(pause.pausedUntil) (\(pause.reason))"
            }
            if hostPauses.isEmpty { fields.append(("host pause", "none")) }
            for pause in hostPauses {
                fields.append(("host pause", describe(pause)))
                fields.append(("", "ends by itself; to lift it early: mprefd resume --host \(pause.subject)"))
            }
            for pause in accountPauses {
                fields.append(("account pause", describe(pause)))
                fields.append(
                    (
                        "",
                        pause.httpStatus == 404
                            ? "fix the account's base_url or status_path and restart, then lift it: mprefd resume --account \(pause.subject)"
                            : "fix the credentials, then lift it: mprefd resume --account \(pause.subject)"
                    ))
            }
            for download in downloads.prefix(5) {
                fields.append(
                    (
                        "download",
                        "\(download.clientID)/\(download.accessToken) \(download.phase): \(download.progress), \(download.bytes) bytes"
                            + (download.lastError.map { "; \($0)" } ?? "")
                    ))
            }
            if downloads.count > 5 { fields.append(("", "… and \(downloads.count - 5) more (`mprefd status --json`)")) }
            for export in unsettledExports.prefix(5) { fields.append(("export", export.line)) }
            if unsettledExports.count > 5 {
                fields.append(("", "… and \(unsettledExports.count - 5) more (`mprefd status --json`)"))
            }
            fields.append(
                (
                    "hook runs",
                    counts(
                        hookRuns, order: Self.hookRunStates.filter { $0 != "succeeded" }, always: ["pending", "dead"])
                ))
            if !unusableRows.isEmpty {
                fields.append(
                    (
                        "unusable rows",
                        "\(unusableRows.count) watching token(s) not polled: their rows cannot be used (`mprefd show TOKEN` says how to repair)"
                    ))
                for row in unusableRows.prefix(5) {
                    fields.append(
                        (
                            "",
                            "\(row.accessToken.map(String.init) ?? "token id \(row.tokenID)") (\(row.clientID ?? "?")): \(row.column) holds \(row.value)"
                        ))
                }
                if unusableRows.count > 5 {
                    fields.append(("", "… and \(unusableRows.count - 5) more (`mprefd status --json`)"))
                }
            }
            let rate = errorRate.map { " (\(($0 * 1000).rounded() / 10) %)" } ?? ""
            fields.append(("polls (10 min)", "\(recentPolls), failed \(recentErrors)\(rate)"))
            fields.append(("not polled", "\(tokensNotPolled) token\(tokensNotPolled == 1 ? "" : "s")"))
        }
        let width = (fields.map(\.0.count).max() ?? 0) + 2
        // An empty name continues the line above (a hint under its value).
        return fields.map { name, value in
            (name.isEmpty ? "" : name + ":").padding(toLength: width, withPad: " ", startingAt: 0)
                + TerminalText.escaped(value)
        }
    }
}

import ArgumentParser
import Foundation
import MprefStore
import MprefWorker

/// `mprefd status`: whether the daemon runs, and what it has to do; a monitoring check.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show whether the daemon runs, its database, tokens by state, pauses and hook runs.",
        discussion: """
            The daemon is running when it holds the single-instance lock (<database>.lock), its \
            heartbeat in the `daemon` table (written every 5 s) is at most --stale-after seconds \
            old, and it has not recorded a clean stop. Opens the database read-only. Times are UTC.

            Usable as a monitoring check (Nagios/Icinga, systemd, cron):
              0   running and healthy
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

    @Option(name: .customLong("stale-after"),
            help: ArgumentHelp("Seconds after which the heartbeat counts as stale (the daemon writes one every 5 s).", valueName: "seconds"))
    var staleAfter: Double = DaemonHealth.defaultStaleAfterSeconds

    @Flag(help: "Print the status as one JSON object (keys in snake_case; absent values are null).")
    var json = false

    func validate() throws {
        guard staleAfter.isFinite, staleAfter > 0 else {
            throw MprefdError.usage("bad --stale-after \(staleAfter): give a number of seconds > 0")
        }
    }

    func run() async throws {
        let configuration = try await global.loadConfiguration()
        let path = global.databaseLocation(configuration).path
        let now = Date()
        let report: StatusReport
        do {
            let database = try global.openDatabase(configuration, mode: .readOnly)
            let snapshot = try database.statusSnapshot(now: now)
            let health = DaemonHealth.assess(lock: DaemonLock.holder(databasePath: database.path), record: snapshot.daemon,
                                             now: now, staleAfterSeconds: staleAfter)
            report = StatusReport(health: health, path: database.path, size: database.sizeOnDisk(), snapshot: snapshot,
                                  now: now, staleAfterSeconds: staleAfter)
        } catch let error as StoreError where error.code == .databaseMissing || error.code == .directoryMissing {
            report = StatusReport(missingDatabaseAt: path, reason: error.message, staleAfterSeconds: staleAfter)
        }
        if json {
            try Output.json(report)
        } else {
            Output.line(report.lines(now: now).joined(separator: "\n"))
        }
        if !report.running {
            throw ExitCode(DaemonHealth.notRunningExitCode)
        }
    }
}

/// Whether a daemon runs on a database: its lock, its heartbeat and its recorded stop, judged together.
struct DaemonHealth: Sendable {
    /// The exit code of `status` and `wait` when the daemon is not running.
    static let notRunningExitCode: Int32 = 3
    /// A heartbeat older than this many seconds is stale (the daemon writes one every 5 s).
    static let defaultStaleAfterSeconds: Double = 30

    var isLockHeld: Bool
    /// The daemon's PID: the lock holder's, else the last one recorded in the `daemon` table.
    var pid: Int?
    var record: DaemonRecord?
    /// Seconds since the last heartbeat (negative when the daemon's clock is ahead); `nil` without one.
    var heartbeatAgeSeconds: Double?
    /// Whether the heartbeat is older than the staleness limit (or unreadable, or missing).
    var isHeartbeatStale: Bool
    /// Lock held, heartbeat fresh, no recorded stop.
    var isRunning: Bool
    /// Why the daemon does not count as running; `nil` when it does.
    var reason: String?

    /// Judges a daemon from its lock (`DaemonLock.holder`) and its `daemon` row. Pure.
    static func assess(lock: (isHeld: Bool, pid: Int32?), record: DaemonRecord?, now: Date, staleAfterSeconds: Double) -> DaemonHealth {
        let age = record.flatMap { Timestamp.parse($0.heartbeatAt) }.map { now.timeIntervalSince($0) }
        let isStale = age.map { $0 > staleAfterSeconds } ?? true
        let pid = lock.pid.map(Int.init) ?? record?.pid
        let reason: String?
        if !lock.isHeld {
            if let record, let stoppedAt = record.stoppedAt {
                reason = "the daemon is not running: it stopped at \(stoppedAt) (PID \(record.pid)); start it with `mprefd run` or `systemctl start mprefd`"
            } else if let record {
                reason = "the daemon is not running: nothing holds the lock, and the last daemon (PID \(record.pid)) recorded no stop (crashed or killed?); its last heartbeat was \(record.heartbeatAt)"
            } else {
                reason = "the daemon is not running: no daemon has ever run on this database; start it with `mprefd run`"
            }
        } else if let record {
            if let stoppedAt = record.stoppedAt {
                reason = "the lock is held\(pid.map { " by PID \($0)" } ?? "") but the daemon recorded a stop at \(stoppedAt) (starting or stopping?)"
            } else if isStale {
                let ageText = age.map { "\(Int($0.rounded()))s old" } ?? "unreadable ('\(record.heartbeatAt)')"
                reason = "the heartbeat is \(ageText), more than \(DaemonHealth.format(seconds: staleAfterSeconds))s: the daemon\(pid.map { " (PID \($0))" } ?? "") holds the lock but looks hung"
            } else {
                reason = nil
            }
        } else {
            reason = "the lock is held\(pid.map { " by PID \($0)" } ?? "") but no heartbeat was written yet (starting?)"
        }
        return DaemonHealth(isLockHeld: lock.isHeld, pid: pid, record: record, heartbeatAgeSeconds: age,
                            isHeartbeatStale: isStale, isRunning: reason == nil, reason: reason)
    }

    /// `90` → `1m30s`, `93784` → `1d2h3m4s`, `0.4` → `0s`.
    static func format(duration seconds: Double) -> String {
        var rest = Int64(max(0, seconds.rounded(.down)))
        var text = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60)] where rest >= size || !text.isEmpty {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text + "\(rest)s"
    }

    /// A number of seconds without a needless `.0`.
    static func format(seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int64(seconds)) : String(seconds)
    }
}

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
        var scope: String
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

    static let hookRunStates = ["pending", "running", "succeeded", "failed", "dead"]

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
    }

    init(health: DaemonHealth, path: String, size: (database: Int64, wal: Int64), snapshot: StatusSnapshot, now: Date, staleAfterSeconds: Double) {
        running = health.isRunning
        reason = health.reason
        lockHeld = health.isLockHeld
        pid = health.pid
        version = health.record?.version
        hostname = health.record?.hostname
        startedAt = health.record?.startedAt
        uptimeS = health.isRunning
            ? health.record.flatMap { Timestamp.parse($0.startedAt) }.map { max(0, (now.timeIntervalSince($0) * 1000).rounded() / 1000) }
            : nil
        heartbeatAt = health.record?.heartbeatAt
        heartbeatAgeS = health.heartbeatAgeSeconds.map { ($0 * 1000).rounded() / 1000 }
        staleAfterS = staleAfterSeconds
        stoppedAt = health.record?.stoppedAt
        database = DatabaseInfo(path: path, exists: true, sizeBytes: size.database + size.wal, fileBytes: size.database, walBytes: size.wal)
        tokens = Dictionary(uniqueKeysWithValues: TokenState.allCases.map { ($0.rawValue, snapshot.tokenCounts[$0.rawValue] ?? 0) })
        nextPollAt = snapshot.nextPollAt
        pauses = snapshot.pauses.map {
            Pause(scope: $0.scope, subject: $0.subject, pausedUntil: Timestamp.format($0.pausedUntil), startedAt: Timestamp.format($0.startedAt),
                  reason: $0.reason, httpStatus: $0.httpStatus, retryAfterS: $0.retryAfterS)
        }
        hookRuns = Dictionary(uniqueKeysWithValues: Self.hookRunStates.map { ($0, snapshot.hookRunCounts[$0] ?? 0) })
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
            return delta >= 0 ? "\(timestamp) (in \(DaemonHealth.format(duration: delta)))" : "\(timestamp) (\(DaemonHealth.format(duration: -delta)) ago)"
        }
        var fields: [(String, String)] = [("daemon", running ? "running" : "NOT RUNNING")]
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
            fields.append(("database size", "\(database.sizeBytes) bytes (file \(database.fileBytes) + WAL \(database.walBytes))"))
            fields.append(("tokens", counts(tokens, order: TokenState.allCases.map(\.rawValue), always: ["watching"])))
            fields.append(("next poll", relative(nextPollAt)))
            let hostPauses = pauses.filter { $0.scope == "host" }
            let accountPauses = pauses.filter { $0.scope != "host" }
            func describe(_ pause: Pause) -> String {
                "\(pause.subject) until \(pause.pausedUntil) (\(pause.reason))"
            }
            fields.append(("host pause", hostPauses.isEmpty ? "none" : hostPauses.map(describe).joined(separator: "; ")))
            if !accountPauses.isEmpty {
                fields.append(("account pause", accountPauses.map(describe).joined(separator: "; ")))
            }
            fields.append(("hook runs", counts(hookRuns, order: Self.hookRunStates.filter { $0 != "succeeded" }, always: ["pending", "dead"])))
        }
        let width = (fields.map(\.0.count).max() ?? 0) + 2
        return fields.map { name, value in (name + ":").padding(toLength: width, withPad: " ", startingAt: 0) + value }
    }
}

import Foundation
import MprefCore
import MprefStore

/// Whether a daemon runs on a database: its lock, its heartbeat and its recorded stop, judged together.
struct DaemonHealth: Sendable {
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
    static func assess(lock: (isHeld: Bool, pid: Int32?), record: DaemonRecord?, now: Date, staleAfterSeconds: Double)
        -> DaemonHealth
    {
        let age = record.flatMap { Timestamp.parse($0.heartbeatAt) }.map { now.timeIntervalSince($0) }
        let isStale = age.map { $0 > staleAfterSeconds } ?? true
        let pid = lock.pid.map(Int.init) ?? record?.pid
        let reason: String?
        if !lock.isHeld {
            if let record, let stoppedAt = record.stoppedAt {
                reason =
                    "the daemon is not running: it stopped at \(stoppedAt) (PID \(record.pid)); start it with `mprefd run` or `systemctl start mprefd`"
            } else if let record {
                reason =
                    "the daemon is not running: nothing holds the lock, and the last daemon (PID \(record.pid)) recorded no stop (crashed or killed?); its last heartbeat was \(record.heartbeatAt)"
            } else {
                reason =
                    "the daemon is not running: no daemon has ever run on this database; start it with `mprefd run`"
            }
        } else if let record {
            if let stoppedAt = record.stoppedAt {
                reason =
                    "the lock is held\(pid.map { " by PID \($0)" } ?? "") but the daemon recorded a stop at \(stoppedAt) (starting or stopping?)"
            } else if isStale {
                let ageText =
                    age.map { "\(Int(saturating: $0.rounded()))s old" } ?? "unreadable ('\(record.heartbeatAt)')"
                reason =
                    "the heartbeat is \(ageText), more than \(DaemonHealth.format(seconds: staleAfterSeconds))s: the daemon\(pid.map { " (PID \($0))" } ?? "") holds the lock but looks hung"
            } else {
                reason = nil
            }
        } else {
            reason = "the lock is held\(pid.map { " by PID \($0)" } ?? "") but no heartbeat was written yet (starting?)"
        }
        return DaemonHealth(
            isLockHeld: lock.isHeld, pid: pid, record: record, heartbeatAgeSeconds: age,
            isHeartbeatStale: isStale, isRunning: reason == nil, reason: reason)
    }

    /// `90` → `1m30s`, `93784` → `1d2h3m4s`, `0.4` → `0s`.
    static func format(duration seconds: Double) -> String {
        var rest = Int64(saturating: max(0, seconds.rounded(.down)))
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

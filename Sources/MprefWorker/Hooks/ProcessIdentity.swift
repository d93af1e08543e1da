import Foundation

/// Linux `/proc` facts about processes, to tell a hook's process group from an unrelated one that
/// reuses its id. Read-only; on systems without `/proc` every answer is "unknown".
package enum ProcessIdentity {
    /// This boot's id, from `/proc/sys/kernel/random/boot_id`; `nil` when unreadable.
    package static func bootID() -> String? {
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `boot_id/starttime` of process `pid` (starttime: clock ticks after boot, field 22 of
    /// `/proc/PID/stat`): unique for a process over the machine's life. `nil` when there is no such
    /// process or `/proc` is unreadable.
    package static func identity(of pid: Int32) -> String? {
        guard let stat = Stat.read(pid), let boot = bootID() else { return nil }
        return "\(boot)/\(stat.startTime)"
    }

    /// The process group now: how many of its members are alive (not zombies), and the identity of
    /// the process whose PID is `pgid`. Scans `/proc` (a few hundred small reads).
    package static func observe(group pgid: Int32) -> ProcessGroupObservation {
        ProcessGroupObservation(
            pgid: pgid, liveMembers: liveMembers(ofGroup: pgid), leaderIdentity: identity(of: pgid), bootID: bootID())
    }

    /// Members of group `pgid` that are not zombies (or dead), from `/proc/*/stat`.
    package static func liveMembers(ofGroup pgid: Int32) -> Int {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return 0 }
        var count = 0
        for entry in entries {
            guard let pid = Int32(entry), let stat = Stat.read(pid) else { continue }
            if stat.processGroup == pgid, stat.state != "Z", stat.state != "X" { count += 1 }
        }
        return count
    }

    /// The fields of `/proc/PID/stat` used here.
    struct Stat {
        var state: Character
        var processGroup: Int32
        var startTime: UInt64

        static func read(_ pid: Int32) -> Stat? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
            return parse(text)
        }

        /// `pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
        /// stime cutime cstime priority nice threads itrealvalue starttime …`; `comm` may hold spaces
        /// and parentheses, so fields are counted after the last `)`.
        static func parse(_ text: String) -> Stat? {
            guard let close = text.lastIndex(of: ")") else { return nil }
            let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
            // fields[0] = state (field 3), fields[2] = pgrp (field 5), fields[19] = starttime (field 22).
            guard fields.count > 19, let state = fields[0].first, let group = Int32(fields[2]),
                let start = UInt64(fields[19])
            else { return nil }
            return Stat(state: state, processGroup: group, startTime: start)
        }
    }
}

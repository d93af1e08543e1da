import Foundation
import MprefCore
import MprefStore

/// What a hook is told about its event: the environment variables and the one-line JSON object on stdin.
///
/// The hook's command line is never built from these values: they travel only as environment and
/// stdin, so a `Status` or label such as `$(touch /tmp/pwned)` is inert data.
package enum HookPayload {
    /// The complete environment of a hook: PATH, HOME, LANG, TZ and the `MPREFD_*` facts; nothing
    /// else of the daemon's (in particular no credentials).
    static func environment(
        for job: HookJob, databasePath: String,
        daemonEnvironment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String: String] {
        var env: [String: String] = [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": daemonEnvironment["HOME"] ?? "/",
            "LANG": daemonEnvironment["LANG"] ?? "C.UTF-8",
            "TZ": daemonEnvironment["TZ"] ?? "UTC",
        ]
        for (key, value) in facts(for: job, databasePath: databasePath) {
            env["MPREFD_" + key.uppercased()] = value.map { "\($0)" } ?? ""
        }
        return env
    }

    /// The stdin document: one JSON object and a newline; keys are the lower-case names of the variables.
    static func standardInput(for job: HookJob, databasePath: String) -> [UInt8] {
        var object: [String: Any] = [:]
        for (key, value) in facts(for: job, databasePath: databasePath) {
            object[key] = value ?? NSNull()
        }
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return Array(data) + [0x0A]
    }

    /// The names of the `MPREFD_*` variables every hook gets (`MPREFD_EVENT_ID`, …, `MPREFD_DB`): not
    /// configuration overrides, though a hook that runs `mprefd` passes them on.
    package static let variableNames: Set<String> = [
        "MPREFD_EVENT_ID", "MPREFD_EVENT", "MPREFD_CLIENT_ID", "MPREFD_ACCESS_TOKEN", "MPREFD_LABEL", "MPREFD_STATUS",
        "MPREFD_ROW_COUNT", "MPREFD_BYTE_COUNT", "MPREFD_ADDED_AT", "MPREFD_FINISHED_AT", "MPREFD_ATTEMPT", "MPREFD_DB",
        "MPREFD_FILE", "MPREFD_RECORDS", "MPREFD_FILE_BYTES", "MPREFD_FILE_SHA256",
        "MPREFD_SEGMENT", "MPREFD_WINDOW_START", "MPREFD_WINDOW_END", "MPREFD_STUCK_ELAPSED_S", "MPREFD_STUCK_P95_S",
    ]

    private static func facts(for job: HookJob, databasePath: String) -> [(String, (any Sendable)?)] {
        [
            ("event_id", job.eventID),
            ("event", job.event.rawValue),
            ("client_id", job.clientID),
            ("access_token", job.accessToken.value),
            ("label", job.label),
            ("status", job.status),
            ("row_count", job.rowCount),
            ("byte_count", job.byteCount),
            ("added_at", job.addedAt),
            ("finished_at", job.finishedAt),
            ("attempt", job.attempt),
            ("db", databasePath),
            // The delivered file of a downloaded export (empty/null otherwise).
            ("file", job.file),
            ("records", job.records),
            ("file_bytes", job.fileBytes),
            ("file_sha256", job.fileSHA256),
            // The export's segment (`mprefd export`, `add-token --segment`), and the window of an
            // export `mprefd export` started (empty/null otherwise).
            ("segment", job.segment),
            ("window_start", job.windowStart),
            ("window_end", job.windowEnd),
            // Event `stuck`: seconds processing when it was raised, and the segment's p95 then
            // (empty/null for the other events).
            ("stuck_elapsed_s", job.stuckElapsedSeconds),
            ("stuck_p95_s", job.stuckP95Seconds),
        ]
    }
}

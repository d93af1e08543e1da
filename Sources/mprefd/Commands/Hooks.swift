import MprefCore
import ArgumentParser
import MprefStore

/// `mprefd hooks`: the hook runs queued when exports finish — list, inspect, retry.
struct Hooks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, inspect and retry hook runs.",
        discussion: """
            A hook run is one shell command fired for one finished export (complete, failed, \
            expired, retrieved, timed_out). States: pending → running → succeeded, or failed (will \
            retry after a backoff) until hooks.max_attempts, then dead (gave up).

            Examples:
              mprefd hooks list --state dead
              mprefd hooks show 42
              mprefd hooks retry --dead
            """,
        subcommands: [HooksList.self, HooksShow.self, HooksRetry.self])

    /// The values of `hook_runs.state`.
    static let states = HookRunState.allCases.map(\.rawValue)

    /// Parses a hook run id (an ArgumentParser transform): a positive integer written with digits only.
    ///
    /// - Throws: ``ArgumentValueError`` (exit 64, naming the value).
    static func runID(_ text: String) throws -> Int64 {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let id = Int64(text), id > 0 else {
            throw ArgumentValueError(description: "a hook run id is the positive integer shown by `mprefd hooks list`")
        }
        return id
    }

    /// How a finished run ended, for tables: `3`, `SIG9`, or `-`.
    static func exitText(_ run: HookRunRecord) -> String {
        if let signal = run.signal { return "SIG\(signal)" }
        return run.exitCode.map(String.init) ?? "-"
    }
}

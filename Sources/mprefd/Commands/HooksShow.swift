import ArgumentParser
import Foundation
import MprefCore
import MprefStore

/// `mprefd hooks show`: one hook run, with the tails of its output.
struct HooksShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one hook run: token, event, command, attempts, exit, and its stdout/stderr tails.",
        discussion: """
            Opens the database read-only. Times are UTC. The tails are the last 8 KiB of the latest \
            attempt's output. Exit 1 when there is no such run.

            Examples:
              mprefd hooks show 42
              mprefd hooks show 42 --json | jq -r .stderr_tail
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(
        help: ArgumentHelp("The hook run id (from `mprefd hooks list`).", valueName: "id"), transform: Hooks.runID)
    var id: Int64

    @Flag(
        help:
            "Print the run as a JSON object (keys = column names of hook_runs, plus client_id and access_token; NULL is null)."
    )
    var json = false

    func run() async throws {
        let runID = id
        let configuration = try await global.loadConfiguration()
        let database = AdminStore(try global.openDatabase(configuration, mode: .readOnly))
        guard let run = try database.hookRun(id: runID) else {
            throw MprefdError.notFound("no hook run \(runID); see `mprefd hooks list`")
        }
        if json {
            try Output.json(run)
            return
        }
        func or(_ text: String?) -> String { text ?? "-" }
        let fields: [(String, String)] = [
            ("token", "\(run.clientID)/\(run.accessToken)"),
            ("event", run.event.rawValue),
            ("event id", run.eventID),
            ("command", TerminalText.escaped(run.command)),
            ("attempt", String(run.attempt)),
            ("created", run.createdAt),
            ("started", or(run.startedAt)),
            ("finished", or(run.finishedAt)),
            ("exit code", or(run.exitCode.map(String.init))),
            ("signal", or(run.signal.map(String.init))),
            ("next attempt", run.state == .pending || run.state == .failed ? or(run.nextAttemptAt) : "-"),
            ("error", or(run.error.map { TerminalText.escaped($0) })),
        ]
        var lines = ["hook run \(run.id)  \(run.state.rawValue)"]
        for (name, value) in fields {
            lines.append("  " + (name + ":").padding(toLength: 14, withPad: " ", startingAt: 0) + value)
        }
        for (name, tail) in [("stdout", run.stdoutTail), ("stderr", run.stderrTail)] {
            guard let tail, !tail.isEmpty else {
                lines.append("\(name): (empty)")
                continue
            }
            lines.append("\(name) (last 8 KiB):")
            let body = tail.hasSuffix("\n") ? String(tail.dropLast()) : tail
            // Hook output is the hook's: control characters (escape sequences, carriage returns) and
            // bidi or line-separator characters are shown escaped, never sent to the terminal.
            lines += body.split(separator: "\n", omittingEmptySubsequences: false).map {
                "  | " + TerminalText.escaped($0)
            }
        }
        Output.line(lines.joined(separator: "\n"))
    }
}

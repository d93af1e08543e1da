import ArgumentParser
import MprefCore
import MprefStore

/// `mprefd hooks list`: hook runs, newest first.
struct HooksList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List hook runs, newest first.",
        discussion: """
            Opens the database read-only. Times are UTC. States: \(Hooks.states.joined(separator: ", ")).

            Examples:
              mprefd hooks list
              mprefd hooks list --state dead
              mprefd hooks list --state failed --json | jq '.[].id'
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Only runs in this state.", valueName: "state"), transform: HookRunState.parseArgument)
    var state: HookRunState?

    @Option(help: ArgumentHelp("At most this many runs (the newest).", valueName: "n"))
    var limit: Int = 1000

    @Flag(
        help:
            "Print a JSON array of hook runs (keys = column names of hook_runs, plus client_id and access_token; NULL is null)."
    )
    var json = false

    func validate() throws {
        guard limit > 0 else { throw ValidationError("bad --limit \(limit): give a number of runs > 0") }
    }

    func run() async throws {
        let configuration = try await global.loadConfiguration()
        let database = AdminStore(try global.openDatabase(configuration, mode: .readOnly))
        let runs = try database.listHookRuns(state: state, limit: limit)
        if json {
            try Output.json(runs)
        } else if runs.isEmpty {
            Output.note("no hook runs" + (state.map { " in state \($0.rawValue)" } ?? ""))
        } else {
            Output.line(
                TextTable.render(
                    header: [
                        "ID", "TOKEN", "EVENT", "STATE", "ATTEMPT", "EXIT", "FINISHED", "NEXT ATTEMPT", "COMMAND",
                    ],
                    rows: runs.map { r in
                        [
                            String(r.id), "\(r.clientID)/\(r.accessToken)", r.event.rawValue, r.state.rawValue,
                            String(r.attempt),
                            Hooks.exitText(r),
                            r.finishedAt ?? "-",
                            r.state == .pending || r.state == .failed ? r.nextAttemptAt ?? "-" : "-",
                            TerminalText.escaped(r.command),
                        ]
                    },
                    rightAligned: [0, 4, 5]))
        }
    }
}

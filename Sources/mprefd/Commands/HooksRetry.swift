import ArgumentParser
import MprefCore
import MprefStore

/// `mprefd hooks retry`: re-arm dead (or failed) hook runs.
struct HooksRetry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Re-arm dead or failed hook runs: pending, due now, with the full number of attempts again.",
        discussion: """
            A running daemon picks re-armed runs up within about a second. Runs in other states \
            (pending, running, succeeded) are reported and left as they are. All ids are checked and \
            looked up first: if one is bad (exit 64) or does not exist (exit 1), nothing changes.

            Examples:
              mprefd hooks retry 42 43
              mprefd hooks retry --dead
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Hook run ids (from `mprefd hooks list`).", valueName: "id"), transform: Hooks.runID)
    var ids: [Int64] = []

    @Flag(help: "Every dead run.")
    var dead = false

    func validate() throws {
        if dead == !ids.isEmpty {
            throw ValidationError(
                dead
                    ? "give either hook run ids or --dead, not both" : "no hook run id given; name some, or pass --dead"
            )
        }
    }

    func run() async throws {
        var seen = Set<Int64>()
        let runIDs = ids.filter { seen.insert($0).inserted }
        let configuration = try await global.loadConfiguration()
        let database = AdminStore(try global.openDatabase(configuration, mode: .readWrite, requireExisting: true))
        if dead {
            let rearmed = try database.retryHookRuns(ids: nil)
            if rearmed.isEmpty {
                Output.line("no dead hook runs")
                return
            }
            Output.line(
                (rearmed.map { "re-armed hook run \($0)" } + [
                    "re-armed \(rearmed.count) dead hook run\(rearmed.count == 1 ? "" : "s")"
                ])
                .joined(separator: "\n"))
            return
        }
        var runs: [HookRunRecord] = []
        for id in runIDs {
            guard let run = try database.hookRun(id: id) else {
                throw MprefdError.notFound("no hook run \(id); see `mprefd hooks list` (nothing was re-armed)")
            }
            runs.append(run)
        }
        let rearmed = Set(try database.retryHookRuns(ids: runIDs))
        let lines = runs.map { run in
            let what =
                "hook run \(run.id) (\(run.clientID)/\(run.accessToken) on \(run.event.rawValue): \(run.command))"
            if rearmed.contains(run.id) { return "re-armed \(what), was \(run.state.rawValue)" }
            return "not re-armed: \(what) is \(run.state.rawValue); only dead or failed runs can be retried"
        }
        Output.line(lines.joined(separator: "\n"))
    }
}

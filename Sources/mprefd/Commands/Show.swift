import ArgumentParser
import Foundation
import MprefStore
import MprefCore

/// `mprefd show`: one token, its hooks and its recent polls.
struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one token, its own hooks and its last polls.",
        discussion: """
            Opens the database read-only. Times are UTC. Exit 1 when the token is not watched; \
            exit 64 when it exists under several client IDs and --client-id is not given.

            Examples:
              mprefd show 123456
              mprefd show 123456 --client-id ACME_Co --history 50
              mprefd show 123456 --json | jq '.polls[0]'
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The access token.", valueName: "access-token"), transform: AccessToken.parseArgument)
    var accessToken: AccessToken

    @Option(
        name: .customLong("client-id"),
        help: ArgumentHelp("The client ID, when the access token exists under several.", valueName: "id"),
        transform: ClientID.parseArgument)
    var clientID: ClientID?

    @Option(help: ArgumentHelp("How many of the latest polls to show.", valueName: "n"))
    var history: Int = 10

    @Flag(help: "Print {token, hooks, polls} as JSON.")
    var json = false

    func validate() throws {
        guard history >= 0 else { throw ValidationError("bad --history \(history): give a number of polls >= 0") }
    }

    func run() async throws {
        let tokens = [accessToken]
        let clientID = self.clientID
        let configuration = try await global.loadConfiguration()
        let database = AdminStore(try global.openDatabase(configuration, mode: .readOnly))
        guard let token = try TokenSelection.resolve(tokens, clientID: clientID, in: database).first else {
            throw MprefdError.notFound(TokenSelection.notFoundMessage(tokens[0], clientID: clientID))
        }
        let hooks = try database.tokenHooks(tokenID: token.id)
        let polls = history == 0 ? [] : try database.polls(tokenID: token.id, limit: history)
        // A watching row the daemon cannot use (edited by hand): say what and how to repair it.
        let defect = token.state.isActive ? try database.rowDefect(tokenID: token.id) : nil
        let download = try database.downloadCheckpoint(tokenID: token.id)
        let export = try database.export(tokenID: token.id)
        if json {
            try Output.json(
                ShowJSON(
                    token: token, hooks: hooks.map(HookJSON.init), polls: polls, unusableRow: defect,
                    download: download.map(DownloadJSON.init), export: export))
            return
        }
        func or(_ text: String?) -> String { text ?? "-" }
        var lines = ["\(token.displayName)  \(token.state.rawValue)"]
        var fields: [(String, String)] = [
            ("label", or(token.label)),
            ("last status", or(token.lastStatus)),
            ("rows", or(token.rowCount.map(String.init))),
            ("bytes", or(token.byteCount.map(String.init))),
            ("added", token.addedAt),
            ("next poll", or(token.nextPollAt)),
            ("deadline", or(token.deadlineAt)),
            ("last polled", or(token.lastPolledAt)),
            ("finished", or(token.finishedAt)),
            ("attempt", "\(token.attempt) (consecutive errors: \(token.consecutiveErrors))"),
            ("last error", or(token.lastError)),
            ("global hooks", token.globalHooks ? "yes" : "no (--no-global-hooks)"),
        ]
        if let segment = token.segment { fields.append(("segment", segment)) }
        if let stuckAt = token.stuckAt {
            fields.append(("stuck since", stuckAt + " (still processing far beyond its segment's usual duration)"))
        }
        if let expires = token.expires { fields.append(("expires", expires)) }
        if let download { fields += DownloadDisplay.fields(download) }
        if let export {
            fields.append(
                (
                    "export",
                    "\(export.id) of segment \(export.segment) (`mprefd export`\(export.incremental ? " --incremental" : ""))"
                ))
            fields.append(
                (
                    "window",
                    "[\(export.windowStart ?? "everything"), \(export.windowEnd))"
                        + (export.lastDateTime.map { " (LastDateTime sent: \($0))" } ?? "")
                ))
        }
        for (name, value) in fields {
            lines.append(
                "  " + (name + ":").padding(toLength: 14, withPad: " ", startingAt: 0) + TerminalText.escaped(value))
        }
        if let defect {
            lines.append(
                "  " + "NOT POLLED:".padding(toLength: 14, withPad: " ", startingAt: 0)
                    + "the row cannot be used: \(defect)")
            lines.append("  " + "repair:".padding(toLength: 14, withPad: " ", startingAt: 0) + defect.repair)
        }
        if hooks.isEmpty {
            lines.append("  " + "hooks:".padding(toLength: 14, withPad: " ", startingAt: 0) + "-")
        } else {
            for hook in hooks {
                lines.append(
                    "  " + "hook:".padding(toLength: 14, withPad: " ", startingAt: 0)
                        + "on \(hook.onEvent): \(hook.command)")
            }
        }
        if history > 0 {
            if polls.isEmpty {
                lines.append("no polls yet")
            } else {
                lines.append("last \(polls.count) polls, newest first:")
                lines.append(
                    TextTable.render(
                        header: [
                            "POLLED AT", "HTTP", "STATUS", "ROWS", "BYTES", "LATENCY MS", "NEXT DELAY S", "OUTCOME",
                            "ERROR",
                        ],
                        rows: polls.map { p in
                            [
                                p.polledAt, or(p.httpStatus.map(String.init)), or(p.status),
                                or(p.rowCount.map(String.init)),
                                or(p.byteCount.map(String.init)), or(p.latencyMs.map(String.init)),
                                or(p.nextDelayS.map { ConfigValueReader.format($0) }), p.outcome, p.error ?? "",
                            ]
                        },
                        rightAligned: [1, 3, 4, 5, 6]
                    ).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            }
        }
        Output.line(lines.joined(separator: "\n"))
    }
}

/// `mprefd show --json`.
struct ShowJSON: Encodable {
    var token: TokenRecord
    var hooks: [HookJSON]
    /// Newest first.
    var polls: [PollRecord]
    /// Set when the token is watching but its row cannot be used (it is not polled); `null` otherwise.
    var unusableRow: TokenRowDefect?
    /// The download's checkpoint, when the export is (being) downloaded; `null` otherwise.
    var download: DownloadJSON?
    /// The `exports` row when `mprefd export` started it; `null` for a token added with add-token.
    var export: ExportRecord?

    enum CodingKeys: String, CodingKey {
        case token, hooks, polls, download, export
        case unusableRow = "unusable_row"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(token, forKey: .token)
        try c.encode(hooks, forKey: .hooks)
        try c.encode(polls, forKey: .polls)
        try c.encode(unusableRow, forKey: .unusableRow)  // `null` when usable: stable keys for scripts
        try c.encode(download, forKey: .download)
        try c.encode(export, forKey: .export)
    }
}

/// A token's own hook, keys as in the `token_hooks` table.
struct HookJSON: Encodable {
    var onEvent: String
    var command: String

    init(_ hook: TokenHook) {
        onEvent = hook.onEvent
        command = hook.command
    }

    enum CodingKeys: String, CodingKey {
        case onEvent = "on_event"
        case command
    }
}

import MprefCore
import ArgumentParser
import MprefStore

/// `mprefd list`: the watched tokens.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List watched tokens with their state, last status and next poll.",
        discussion: """
            Opens the database read-only. Times are UTC. States: \(TokenState.allowedValues).

            Examples:
              mprefd list
              mprefd list --state watching --client-id ACME_Co
              mprefd list --json | jq '.[] | select(.state == "complete") | .access_token'
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Only tokens in this state.", valueName: "state"), transform: TokenState.parseArgument)
    var state: TokenState?

    @Option(
        name: .customLong("client-id"), help: ArgumentHelp("Only tokens of this client ID.", valueName: "id"),
        transform: ClientID.parseArgument)
    var clientID: ClientID?

    @Flag(
        help:
            "Print a JSON array of token rows, one object per line (keys = column names of the tokens table, null for NULL)."
    )
    var json = false

    func run() async throws {
        let stateFilter = state
        let clientID = self.clientID
        let configuration = try await global.loadConfiguration()
        let database = AdminStore(try global.openDatabase(configuration, mode: .readOnly))
        if json {
            try Output.jsonArray { element in
                try database.forEachTokenJSON(state: stateFilter, clientID: clientID, element)
            }
            return
        }
        let tokens = try database.listTokens(state: stateFilter, clientID: clientID)
        let held = try await HeldPolls(pauses: database.pausesInForce(), configuration: configuration)
        let downloads = tokens.contains { $0.state == .downloading } ? try database.downloadsInProgress() : [:]
        // A watching token of a client ID without a configured account is never polled (it times
        // out at its deadline); unknowable when no accounts are configured here.
        let unpolled = { (t: TokenRecord) in
            t.state == .watching && !configuration.accounts.isEmpty
                && ClientID(t.clientID).flatMap { configuration.accounts[$0] } == nil
        }
        if tokens.isEmpty {
            Output.note(
                "no tokens" + (stateFilter.map { " in state \($0.rawValue)" } ?? "")
                    + (clientID.map { " for client ID \($0)" } ?? ""))
        } else {
            Output.line(
                TextTable.render(
                    header: [
                        "CLIENT ID", "ACCESS TOKEN", "STATE", "LAST STATUS", "ROWS", "BYTES", "NEXT POLL", "LABEL",
                    ],
                    rows: tokens.map { t in
                        [
                            t.clientID, t.accessToken.description,
                            t.state.rawValue + (downloads[t.id].map { " " + DownloadDisplay.percent($0) } ?? ""),
                            t.lastStatus ?? "-",
                            t.rowCount.map(String.init) ?? "-", t.byteCount.map(String.init) ?? "-",
                            unpolled(t) ? "- (no account configured: not polled)" : held.nextPoll(of: t), t.label ?? "",
                        ]
                    },
                    rightAligned: [1, 4, 5]))
        }
        // Exports that may have started without a known access token: nothing in the table above
        // watches them, so say so after it (on stderr: the table stays the only stdout).
        for export in try database.unsettledExports() where clientID == nil || export.clientID == clientID?.value {
            Output.note(UnsettledExport(export).line)
        }
    }
}

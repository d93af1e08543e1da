import MprefCore
import ArgumentParser
import MprefStore

/// The tokens `pause` and `resume` act on.
struct StateChangeSelection: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Access tokens.", valueName: "access-token"), transform: AccessToken.parseArgument)
    var accessTokens: [AccessToken] = []

    @Flag(help: "Every token in the state this command changes (of --client-id, when given).")
    var all = false

    @Option(
        name: .customLong("client-id"),
        help: ArgumentHelp(
            "The client ID: limits --all, or picks one when an access token exists under several.", valueName: "id"),
        transform: ClientID.parseArgument)
    var clientID: ClientID?

    /// Access tokens or `--all`, one of them (`pause`, and `resume` without `--host`/`--account`).
    func validateTokensOrAll() throws {
        if all == !accessTokens.isEmpty {
            throw ValidationError(
                all ? "give either access tokens or --all, not both" : "no access token given; name some, or pass --all"
            )
        }
    }

    func apply(_ change: AdminStore.AdminChange, verb: String, eligible: TokenState) async throws {
        let tokens = AccessToken.unique(accessTokens)
        let clientID = self.clientID
        let configuration = try await global.loadConfiguration()
        let database = AdminStore(try global.openDatabase(configuration, mode: .readWrite, requireExisting: true))
        let records =
            all
            ? try database.listTokens(state: eligible, clientID: clientID)
            : try TokenSelection.resolve(tokens, clientID: clientID, in: database)
        let changed = Set(try database.changeState(change, tokenIDs: records.map(\.id)))
        var lines: [String] = []
        for record in records {
            if changed.contains(record.id) {
                lines.append("\(verb) \(record.displayName)")
            } else {
                lines.append(
                    "not \(verb): \(record.displayName) (state \(record.state.rawValue); only \(eligible.rawValue) tokens can be \(verb))"
                )
            }
        }
        if all { lines.append("\(verb) \(changed.count) token\(changed.count == 1 ? "" : "s")") }
        Output.line(lines.joined(separator: "\n"))
    }
}

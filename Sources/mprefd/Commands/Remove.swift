import ArgumentParser
import MprefStore
import MprefCore

/// `mprefd remove`: stop watching tokens.
struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Stop watching tokens (state removed, history kept), or delete them with --purge.",
        discussion: """
            All access tokens are checked and looked up first: if one is bad (exit 64) or not \
            watched (exit 1), nothing changes. A removed token can be watched again with \
            `mprefd add-token --reset`.

            Examples:
              mprefd remove 123456
              mprefd remove --client-id ACME_Co 123456 123457
              mprefd remove --purge 123456     # deletes the token, its poll history and hook runs
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(
        help: ArgumentHelp("Access tokens to remove.", valueName: "access-token"), transform: AccessToken.parseArgument)
    var accessTokens: [AccessToken] = []

    @Option(
        name: .customLong("client-id"),
        help: ArgumentHelp("The client ID, when an access token exists under several.", valueName: "id"),
        transform: ClientID.parseArgument)
    var clientID: ClientID?

    @Flag(help: "Delete the rows instead: the token, its poll history and its hook runs. Cannot be undone.")
    var purge = false

    func validate() throws {
        guard !accessTokens.isEmpty else { throw ValidationError("no access token given; e.g. `mprefd remove 123456`") }
    }

    func run() async throws {
        let tokens = AccessToken.unique(accessTokens)
        let clientID = self.clientID
        let configuration = try await global.loadConfiguration()
        let database = AdminStore(try global.openDatabase(configuration, mode: .readWrite, requireExisting: true))
        let records = try TokenSelection.resolve(tokens, clientID: clientID, in: database)
        let changed = Set(try database.changeState(purge ? .purge : .remove, tokenIDs: records.map(\.id)))
        var lines: [String] = []
        for record in records {
            if !changed.contains(record.id) {
                lines.append("already removed: \(record.displayName)")
            } else if purge {
                lines.append("purged \(record.displayName) (token, poll history and hook runs deleted)")
            } else {
                lines.append("removed \(record.displayName) (was \(record.state.rawValue); history kept)")
            }
        }
        Output.line(lines.joined(separator: "\n"))
    }
}

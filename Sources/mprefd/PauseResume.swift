import ArgumentParser
import MprefStore

/// `mprefd pause`: stop polling tokens until `mprefd resume`.
struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Stop polling watched tokens until they are resumed.",
        discussion: """
            Only watching tokens are paused; others are reported and left as they are.

            Examples:
              mprefd pause 123456 123457
              mprefd pause --all --client-id ACME_Co
            """)

    @OptionGroup var selection: StateChangeSelection

    func run() async throws {
        try await selection.apply(.pause, verb: "paused", eligible: .watching)
    }
}

/// `mprefd resume`: poll paused tokens again.
struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Poll paused tokens again (due at once).",
        discussion: """
            Only paused tokens are resumed; others are reported and left as they are.

            Examples:
              mprefd resume 123456
              mprefd resume --all
            """)

    @OptionGroup var selection: StateChangeSelection

    func run() async throws {
        try await selection.apply(.resume, verb: "resumed", eligible: .paused)
    }
}

/// The tokens `pause` and `resume` act on.
struct StateChangeSelection: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Access tokens.", valueName: "access-token"))
    var accessTokens: [String] = []

    @Flag(help: "Every token in the state this command changes (of --client-id, when given).")
    var all = false

    @Option(name: .customLong("client-id"), help: ArgumentHelp("The client ID: limits --all, or picks one when an access token exists under several.", valueName: "id"))
    var clientID: String?

    func apply(_ change: TokenDatabase.AdminChange, verb: String, eligible: TokenState) async throws {
        let tokens = try TokenSelection.parse(accessTokens)
        try TokenSelection.checkClientID(clientID)
        if all == !tokens.isEmpty {
            throw MprefdError.usage(all ? "give either access tokens or --all, not both" : "no access token given; name some, or pass --all")
        }
        let configuration = try await global.loadConfiguration()
        let database = try global.openDatabase(configuration, mode: .readWrite, requireExisting: true)
        let records = all
            ? try database.listTokens(state: eligible, clientID: clientID)
            : try TokenSelection.resolve(tokens, clientID: clientID, in: database)
        let changed = Set(try database.changeState(change, tokenIDs: records.map(\.id)))
        var lines: [String] = []
        for record in records {
            if changed.contains(record.id) {
                lines.append("\(verb) \(record.displayName)")
            } else {
                lines.append("not \(verb): \(record.displayName) (state \(record.state.rawValue); only \(eligible.rawValue) tokens can be \(verb))")
            }
        }
        if all { lines.append("\(verb) \(changed.count) token\(changed.count == 1 ? "" : "s")") }
        Output.line(lines.joined(separator: "\n"))
    }
}

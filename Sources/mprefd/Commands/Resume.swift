import MprefCore
import ArgumentParser
import MprefStore
import MprefWorker

/// `mprefd resume`: poll paused tokens again, or lift a host or account pause early.
struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Poll paused tokens again (due at once), or lift a host or account pause early.",
        discussion: """
            Only paused tokens are resumed; others are reported and left as they are.

            --host and --account lift a pause the daemon set itself: a host pause after a \
            503, an account pause after a 401/403 (see `mprefd status`). A running daemon \
            polls that host or account again within a second. Lift an account pause once its \
            credentials are fixed; a host pause ends by itself when Retry-After says. Exit 1 \
            when a named pause is not in force (the others named are still lifted).

            Examples:
              mprefd resume 123456
              mprefd resume --all
              mprefd resume --account ACME_Co
              mprefd resume --host https://api.mypreferences.com
            """)

    @OptionGroup var selection: StateChangeSelection

    @Option(
        name: .customLong("host"),
        help: ArgumentHelp(
            "Lift the host pause of this base URL or scheme://host:port (repeatable).", valueName: "url"))
    var hosts: [String] = []

    @Option(
        name: .customLong("account"),
        help: ArgumentHelp(
            "Lift the account pause of this client ID (repeatable).", valueName: "client-id"),
        transform: ClientID.parseArgument)
    var accounts: [ClientID] = []

    func validate() throws {
        guard !hosts.isEmpty || !accounts.isEmpty else { return try selection.validateTokensOrAll() }
        if selection.all || !selection.accessTokens.isEmpty || selection.clientID != nil {
            throw ValidationError(
                "--host and --account lift pauses; resume tokens in a separate command (drop the access tokens, --all and --client-id)"
            )
        }
    }

    func run() async throws {
        guard !hosts.isEmpty || !accounts.isEmpty else {
            try await selection.apply(.resume, verb: "resumed", eligible: .paused)
            return
        }
        let subjects =
            try hosts.map { (scope: PauseScope.host, subject: try Self.hostKey($0)) }
            + accounts.map { (scope: PauseScope.account, subject: $0.value) }
        let configuration = try await selection.global.loadConfiguration()
        let database = AdminStore(
            try selection.global.openDatabase(configuration, mode: .readWrite, requireExisting: true))
        let (lifted, remaining) = try database.liftPauses(subjects)
        let lines = lifted.map {
            "lifted \($0.scope) pause \($0.subject) (was until \(Timestamp.format($0.pausedUntil)): \($0.reason))"
        }
        if !lines.isEmpty { Output.line(lines.joined(separator: "\n")) }
        let missed = subjects.filter { subject in
            !lifted.contains { $0.scope == subject.scope && $0.subject == subject.subject }
        }
        guard !missed.isEmpty else { return }
        let names = missed.map { "\($0.scope) \($0.subject)" }.joined(separator: ", ")
        let inForce =
            remaining.isEmpty
            ? "none is"
            : remaining.map { "\($0.scope) \($0.subject)" }.joined(separator: ", ")
                + (remaining.count == 1 ? " is" : " are")
        throw MprefdError.notFound(
            "no pause in force for \(names)\(lifted.isEmpty ? "" : " (the others were lifted)"); \(inForce) in force (see `mprefd status`)"
        )
    }

    /// The host pause subject (`scheme://host:port`, as `mprefd status` shows it) of a `--host` value:
    /// an account's `base_url` or the subject itself.
    /// - Throws: `MprefdError` exit 64 when it is not an http(s) URL with a host.
    static func hostKey(_ value: String) throws -> String {
        guard let key = PollTarget.validHostKey(of: value) else {
            throw MprefdError.usage(
                "bad --host '\(value)': give the account's base_url or scheme://host:port as `mprefd status` shows it, e.g. https://api.example.com:443"
            )
        }
        return key
    }
}

import ArgumentParser
import Foundation
import MprefStore

/// `mprefd add-token`: start watching access tokens.
struct AddToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-token",
        abstract: "Start watching one or more access tokens of an async export.",
        discussion: """
            Every value is checked before anything is written: one bad access token (or stdin line) \
            and nothing is added (exit 64). All tokens are added in one transaction.

            A token already watched (or paused) is left as it is ("already watched"). A finished \
            one is left as it is unless --reset is given, which watches it again from the start \
            (its history is kept).

            An access token is a positive integer (1…9223372036854775807, digits only). A client \
            ID is 1–128 of letters, digits, '_', '-', '.'; it must be one of the configured \
            accounts (or any valid one when no account is configured) and may be omitted when \
            exactly one account is configured.

            DURATION: 90s, 45m, 36h, 2d, combinations such as 1h30m, or a number of seconds. \
            Default deadline: polling.deadline_s from the configuration (0 = none); --deadline 0 \
            means no deadline too.

            Examples:
              mprefd add-token --client-id ACME_Co 123456
              mprefd add-token 123456 --label "nightly contacts" --deadline 6h \\
                  --on-complete '/usr/local/bin/load-export "$MPREFD_ACCESS_TOKEN"'
              mprefd add-token --client-id ACME_Co --stdin < tokens.txt
              mprefd add-token --reset 123456 --json
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Access tokens to watch.", valueName: "access-token"))
    var accessTokens: [String] = []

    @Option(name: .customLong("client-id"), help: ArgumentHelp("The MyPreferences client ID the tokens belong to.", valueName: "id"))
    var clientID: String?

    @Option(help: ArgumentHelp("A note kept with the tokens (shown by list and show, passed to hooks).", valueName: "text"))
    var label: String?

    @Option(help: ArgumentHelp("Give up (state timed_out) if the export is still processing after this long; 0 = no deadline.", valueName: "duration"))
    var deadline: String?

    @Flag(help: "Also read access tokens from standard input, one per line (blank lines and lines starting with # are skipped).")
    var stdin = false

    @Flag(help: "Watch finished (or removed) tokens again from the start; their history is kept.")
    var reset = false

    @Option(name: .customLong("on-complete"), help: ArgumentHelp("A shell command run when the export completes (repeatable).", valueName: "cmd"))
    var onComplete: [String] = []

    @Option(name: .customLong("on-failure"), help: ArgumentHelp("A shell command run when the export fails or times out (repeatable).", valueName: "cmd"))
    var onFailure: [String] = []

    @Option(name: .customLong("on-expired"), help: ArgumentHelp("A shell command run when the export expires (repeatable).", valueName: "cmd"))
    var onExpired: [String] = []

    @Option(name: .customLong("on-retrieved"), help: ArgumentHelp("A shell command run when the export is retrieved (repeatable).", valueName: "cmd"))
    var onRetrieved: [String] = []

    @Flag(name: .customLong("no-global-hooks"), help: "Run only this token's own hooks, not the configured hooks.* commands.")
    var noGlobalHooks = false

    @Flag(inversion: .prefixedNo, exclusivity: .exclusive, help: "Download the export once complete (--download), or not (--no-download); default: the account's download.enabled.")
    var download: Bool?

    @Flag(help: "Print a JSON array of {result, token} instead of lines.")
    var json = false

    func run() async throws {
        // Check every value before touching the database.
        var tokens = try TokenSelection.parse(accessTokens)
        if stdin {
            tokens = Self.merge(tokens, try Self.readTokens(from: FileHandle.standardInput.readDataToEndOfFile()))
        }
        guard !tokens.isEmpty else {
            throw MprefdError.usage("no access token given; name one or more (e.g. `mprefd add-token 123456`) or pass --stdin")
        }
        if let clientID, !AdminValues.isValidClientID(clientID) {
            throw MprefdError.usage("bad client ID '\(clientID)': \(AdminValues.clientIDRule)")
        }
        // nil: the configured default; .some(nil): no deadline (`--deadline 0`, as `deadline_s: 0`).
        var deadlineSeconds: Int64??
        if let deadline {
            if AdminValues.isZeroDuration(deadline) {
                deadlineSeconds = .some(nil)
            } else if let seconds = AdminValues.durationSeconds(deadline) {
                deadlineSeconds = seconds
            } else {
                throw MprefdError.usage("bad --deadline '\(deadline)': \(AdminValues.durationRule), or 0 for no deadline")
            }
        }
        let hooks = try tokenHooks()
        if let label, label.unicodeScalars.contains(where: TerminalText.isUnsafe) || label.count > 1000 {
            throw MprefdError.usage("bad --label \(ConfigValueReader.quote(TerminalText.escaped(label.prefix(80)))): it must be one line of at most 1000 characters without control characters (tabs, escapes), line or paragraph separators (U+2028, U+2029) or bidirectional formatting characters (U+200E, U+200F, U+061C, U+202A–U+202E, U+2066–U+2069)")
        }

        let configuration = try await global.loadConfiguration()
        let clientID = try configuration.resolveClientID(clientID)
        let now = Date()
        let deadlineAt: Date? =
            if let deadlineSeconds { deadlineSeconds.map { now.addingTimeInterval(TimeInterval($0)) } }
            else { configuration.polling.deadline.map { now.addingTimeInterval(Self.seconds($0)) } }

        let newTokens = tokens.map {
            NewToken(clientID: clientID, accessToken: $0, label: label, deadline: deadlineAt, hooks: hooks, globalHooks: !noGlobalHooks, download: download)
        }
        let database = try global.openDatabase(configuration, mode: .readWrite)
        let results = try database.addTokens(newTokens, reset: reset, now: now)
        try report(results)
    }

    private func report(_ results: [AddResult]) throws {
        if json {
            try Output.json(results.map(AddResultJSON.init))
            return
        }
        var lines: [String] = []
        lines.reserveCapacity(results.count)
        for result in results {
            switch result {
            case .added(let token):
                lines.append("added \(token.displayName)" + (token.label.map { " (label \(ConfigValueReader.quote($0)))" } ?? ""))
            case .alreadyWatched(let token):
                lines.append("already watched: \(token.displayName)" + (token.state == .paused ? " (paused; `mprefd resume` to poll it)" : ""))
            case .alreadyFinished(let token):
                lines.append("already finished (\(token.state.rawValue)): \(token.displayName); use --reset to watch it again")
            case .reArmed(let token):
                lines.append("watching again: \(token.displayName) (history kept)")
            }
        }
        Output.line(lines.joined(separator: "\n"))
    }

    /// The token's own hooks from the `--on-*` options.
    private func tokenHooks() throws -> [TokenHook] {
        let groups: [(String, String, [String])] = [
            ("complete", "--on-complete", onComplete), ("failure", "--on-failure", onFailure),
            ("expired", "--on-expired", onExpired), ("retrieved", "--on-retrieved", onRetrieved),
        ]
        var hooks: [TokenHook] = []
        for (event, option, commands) in groups {
            for command in commands {
                guard !command.allSatisfy(\.isWhitespace) else {
                    throw MprefdError.usage("bad \(option) '\(command)': give a shell command line")
                }
                hooks.append(TokenHook(onEvent: event, command: command))
            }
        }
        return hooks
    }

    /// Access tokens from `data`, one per line: surrounding whitespace trimmed, blank lines and
    /// lines starting with `#` skipped.
    ///
    /// - Throws: `MprefdError` exit 64 naming the first bad value and its line number.
    static func readTokens(from data: Data) throws -> [Int64] {
        var tokens: [Int64] = []
        var lineNumber = 0
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty || text.hasPrefix("#") { continue }
            guard let token = AdminValues.accessToken(text) else {
                throw MprefdError.usage("bad access token '\(text)' on stdin line \(lineNumber): \(AdminValues.accessTokenRule)")
            }
            tokens.append(token)
        }
        return tokens
    }

    /// `first` then the tokens of `more` not already in it.
    static func merge(_ first: [Int64], _ more: [Int64]) -> [Int64] {
        var seen = Set(first)
        return first + more.filter { seen.insert($0).inserted }
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// One element of `add-token --json`.
struct AddResultJSON: Encodable {
    /// `added`, `already_watched`, `already_finished`, `re_armed`.
    var result: String
    var token: TokenRecord

    init(_ result: AddResult) {
        switch result {
        case .added: self.result = "added"
        case .alreadyWatched: self.result = "already_watched"
        case .alreadyFinished: self.result = "already_finished"
        case .reArmed: self.result = "re_armed"
        }
        token = result.token
    }
}

import MprefCore
import ArgumentParser
import Foundation
import MprefStore
import MprefWorker

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

    /// Checked by hand (``TokenSelection/parse(_:)``), not by ArgumentParser: the messages match the
    /// `--stdin` lines' (`bad access token '-5': …`).
    @Argument(help: ArgumentHelp("Access tokens to watch.", valueName: "access-token"))
    var accessTokens: [String] = []

    @Option(
        name: .customLong("client-id"),
        help: ArgumentHelp("The MyPreferences client ID the tokens belong to.", valueName: "id"),
        transform: ClientID.parseArgument)
    var clientID: ClientID?

    @Flag(
        help:
            "Also read access tokens from standard input, one per line (blank lines and lines starting with # are skipped)."
    )
    var stdin = false

    @Flag(help: "Watch finished (or removed) tokens again from the start; their history is kept.")
    var reset = false

    @OptionGroup(title: "Watching") var watch: WatchOptions

    @Option(
        help: ArgumentHelp(
            "The segment the export belongs to: its past exports' durations place the polls (see README, \"How polling behaves\").",
            valueName: "name"))
    var segment: String?

    @Flag(help: "Print a JSON array of {result, token} instead of lines.")
    var json = false

    func run() async throws {
        // Check every value before touching the database.
        var tokens = try TokenSelection.parse(accessTokens)
        if stdin {
            tokens = Self.merge(tokens, try Self.readTokens(from: FileHandle.standardInput.readDataToEndOfFile()))
        }
        guard !tokens.isEmpty else {
            throw MprefdError.usage(
                "no access token given; name one or more (e.g. `mprefd add-token 123456`) or pass --stdin")
        }
        var deadlineSeconds = watch.deadlineSeconds
        let hooks = try watch.tokenHooks()
        let label = try watch.checkedLabel()
        let segmentName = try segment.map { text in
            guard let name = SegmentName(text) else {
                throw MprefdError.usage("bad --segment '\(TerminalText.escaped(text.prefix(80)))': \(SegmentName.rule)")
            }
            return name
        }

        let configuration = try await global.loadConfiguration()
        let clientID = try configuration.resolveClientID(clientID?.value)
        let now = Date()
        let deadlineAt = WatchOptions.deadline(deadlineSeconds, configured: configuration.polling.deadline, now: now)

        var newTokens = tokens.map {
            NewToken(
                clientID: clientID, accessToken: $0, label: label, deadline: deadlineAt, hooks: hooks,
                globalHooks: !watch.noGlobalHooks, download: watch.download, segment: segmentName)
        }
        let database = AdminStore(try global.openDatabase(configuration, mode: .readWrite))
        if watch.autoDeadline {
            deadlineSeconds = try await watch.autoDeadlineSeconds(
                clientID: clientID, segment: segmentName, database: database)
            let deadlineAt = WatchOptions.deadline(
                deadlineSeconds, configured: configuration.polling.deadline, now: now)
            newTokens = newTokens.map {
                var t = $0; t.deadline = deadlineAt; return t
            }
        }
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
                lines.append(
                    "added \(token.displayName)" + (token.label.map { " (label \(ConfigValueReader.quote($0)))" } ?? "")
                )
            case .alreadyWatched(let token):
                lines.append(
                    "already watched: \(token.displayName)"
                        + (token.state == .paused ? " (paused; `mprefd resume` to poll it)" : ""))
            case .alreadyFinished(let token):
                lines.append(
                    "already finished (\(token.state.rawValue)): \(token.displayName); use --reset to watch it again")
            case .reArmed(let token):
                lines.append("watching again: \(token.displayName) (history kept)")
            }
        }
        Output.line(lines.joined(separator: "\n"))
    }

    /// Access tokens from `data`, one per line: surrounding whitespace trimmed, blank lines and
    /// lines starting with `#` skipped.
    ///
    /// - Throws: `MprefdError` exit 64 naming the first bad value and its line number.
    static func readTokens(from data: Data) throws -> [AccessToken] {
        var tokens: [AccessToken] = []
        var lineNumber = 0
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty || text.hasPrefix("#") { continue }
            guard let token = AccessToken(digits: text) else {
                throw MprefdError.usage(
                    "bad access token '\(text)' on stdin line \(lineNumber): \(AccessToken.rule)")
            }
            tokens.append(token)
        }
        return tokens
    }

    /// `first` then the tokens of `more` not already in it.
    static func merge(_ first: [AccessToken], _ more: [AccessToken]) -> [AccessToken] {
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

import ArgumentParser
import Foundation
import MprefCore
import MprefStore
import MprefWorker

/// How a token is watched once known: the options `add-token` and `export` share.
struct WatchOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp("A note kept with the tokens (shown by list and show, passed to hooks).", valueName: "text"))
    var label: String?

    @Option(
        help: ArgumentHelp(
            "Give up (state timed_out) if the export is still processing after this long; 0 = no deadline; auto = from the segment's history (5 × its 99th-percentile duration, at least 1 h).",
            valueName: "duration"),
        transform: DeadlineArgument.parse)
    var deadline: DeadlineArgument?

    /// `--deadline auto`.
    var autoDeadline: Bool { deadline == .auto }

    @Option(
        name: .customLong("on-complete"),
        help: ArgumentHelp("A shell command run when the export completes (repeatable).", valueName: "cmd"))
    var onComplete: [String] = []

    @Option(
        name: .customLong("on-failure"),
        help: ArgumentHelp("A shell command run when the export fails or times out (repeatable).", valueName: "cmd"))
    var onFailure: [String] = []

    @Option(
        name: .customLong("on-expired"),
        help: ArgumentHelp("A shell command run when the export expires (repeatable).", valueName: "cmd"))
    var onExpired: [String] = []

    @Option(
        name: .customLong("on-retrieved"),
        help: ArgumentHelp("A shell command run when the export is retrieved (repeatable).", valueName: "cmd"))
    var onRetrieved: [String] = []

    @Option(
        name: .customLong("on-stuck"),
        help: ArgumentHelp(
            "A shell command run when the export is stuck: still processing beyond polling.stuck_factor × its segment's 95th-percentile duration (repeatable).",
            valueName: "cmd"))
    var onStuck: [String] = []

    @Flag(
        name: .customLong("no-global-hooks"),
        help: "Run only this token's own hooks, not the configured hooks.* commands.")
    var noGlobalHooks = false

    @Flag(
        inversion: .prefixedNo, exclusivity: .exclusive,
        help:
            "Download the export once complete (--download), or not (--no-download); default: the account's download.enabled."
    )
    var download: Bool?

    /// Every `--on-*` command given.
    var tokenHooksGiven: [String] { onComplete + onFailure + onExpired + onRetrieved + onStuck }

    /// `--deadline`: `nil` = the configured default (no `--deadline`, or `auto` before the segment's
    /// history is read); `.some(nil)` = none (`--deadline 0`); else seconds.
    var deadlineSeconds: Int64?? {
        switch deadline {
        case nil, .auto: nil
        case .noDeadline: .some(nil)
        case .seconds(let seconds): .some(seconds)
        }
    }

    /// `--label`, checked: one line of at most 1000 characters without control or bidi characters.
    func checkedLabel() throws -> String? {
        if let label, label.unicodeScalars.contains(where: TerminalText.isUnsafe) || label.count > 1000 {
            throw MprefdError.usage(
                "bad --label \(ConfigValueReader.quote(TerminalText.escaped(label.prefix(80)))): it must be one line of at most 1000 characters without control characters (tabs, escapes), line or paragraph separators (U+2028, U+2029) or bidirectional formatting characters (U+200E, U+200F, U+061C, U+202A–U+202E, U+2066–U+2069)"
            )
        }
        return label
    }

    /// The token's own hooks from the `--on-*` options.
    func tokenHooks() throws -> [TokenHook] {
        let groups: [(String, String, [String])] = [
            ("complete", "--on-complete", onComplete), ("failure", "--on-failure", onFailure),
            ("expired", "--on-expired", onExpired), ("retrieved", "--on-retrieved", onRetrieved),
            ("stuck", "--on-stuck", onStuck),
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

    /// `--deadline auto` for a token of `segment`: 5 × the segment's 99th-percentile duration (at least
    /// 1 hour) from its history, in seconds; `nil` (with a note on stderr) without enough history
    /// (fewer than 3 completions), so the configured `polling.deadline_s` applies.
    func autoDeadlineSeconds(clientID: ClientID, segment: SegmentName?, database: AdminStore) async throws -> Int64?? {
        guard autoDeadline else { return deadlineSeconds }
        guard let segment else {
            throw MprefdError.usage(
                "--deadline auto needs the export's segment (mprefd export, or add-token --segment NAME)")
        }
        guard
            let forecast = CompletionForecast(
                durations: Array(try await database.segmentDurations(clientID: clientID, segment: segment).reversed()))
        else {
            Output.note(
                "segment \(TerminalText.escaped(segment.value)) has fewer than \(CompletionForecast.minimumSamples) past completions: --deadline auto uses polling.deadline_s"
            )
            return nil
        }
        let seconds = Swift.max(3600, 5 * forecast.quantile(0.99))
        return .some(Int64(Swift.min(seconds, Double(AdminValues.maxDurationSeconds)).rounded(.up)))
    }

    /// The deadline instant for a token added at `now`: `seconds` as from ``deadlineSeconds``
    /// (`nil` = `polling.deadline_s`).
    static func deadline(_ seconds: Int64??, configured: Duration?, now: Date) -> Date? {
        if let seconds { return seconds.map { now.addingTimeInterval(TimeInterval($0)) } }
        return configured.map { now.addingTimeInterval(AddToken.seconds($0)) }
    }
}

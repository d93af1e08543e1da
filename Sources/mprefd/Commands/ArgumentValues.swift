import ArgumentParser
import MprefCore
import MyPreferences

// Typed command-line values, parsed by ArgumentParser (`@Option(transform:)`): a bad value ends the
// parse with exit 64 before `run()`, as "The value 'X' is invalid for '<name>': RULE". A transform,
// not `ExpressibleByArgument.init?(argument:)`, because only a thrown error carries the rule (what is
// allowed) into ArgumentParser's message. The rules themselves are the types' own
// (``AccessToken/rule``, ``ClientID/rule`` in MprefCore) and ``AdminValues``'s (durations).
//
// Values ArgumentParser would echo unescaped stay hand-checked in the command (segment names,
// labels, hook commands: ``TerminalText``), and so do TIME values (relative to the command's `now`).

/// Why a value typed on the command line was refused: the rule, shown by ArgumentParser after the value.
struct ArgumentValueError: Error, CustomStringConvertible {
    var description: String
}

extension AccessToken {
    /// An access token named on the command line: 1…9223372036854775807, digits only
    /// (``AccessToken/init(digits:)``).
    static func parseArgument(_ text: String) throws -> AccessToken {
        guard let token = AccessToken(digits: text) else { throw ArgumentValueError(description: AccessToken.rule) }
        return token
    }

    /// `tokens`, duplicates dropped (first occurrence kept).
    static func unique(_ tokens: [AccessToken]) -> [AccessToken] {
        var seen = Set<AccessToken>()
        return tokens.filter { seen.insert($0).inserted }
    }
}

extension ClientID {
    /// A MyPreferences client ID named on the command line: 1–128 of letters, digits, `_`, `-`, `.`
    /// (``ClientID/rule``); any valid one, configured or not.
    static func parseArgument(_ text: String) throws -> ClientID {
        guard let id = ClientID(text) else { throw ArgumentValueError(description: ClientID.rule) }
        return id
    }
}

/// A duration named on the command line (`90s`, `45m`, `1h30m`, `5400`), in whole seconds, with the
/// text as typed (for messages such as `timed out after 2h`).
struct DurationArgument: Sendable {
    /// Seconds, 1…``AdminValues/maxDurationSeconds`` (0 only from ``parseAllowingZero(_:)``).
    var seconds: Int64
    var text: String

    /// More than 0 and at most 100 years (`--timeout`, `--interval`).
    static func parse(_ text: String) throws -> DurationArgument {
        guard let seconds = AdminValues.durationSeconds(text) else {
            throw ArgumentValueError(description: AdminValues.durationRule)
        }
        return DurationArgument(seconds: seconds, text: text)
    }

    /// As ``parse(_:)``, or a zero duration (`0`, `0s`, …) (`--overlap`).
    static func parseAllowingZero(_ text: String) throws -> DurationArgument {
        if AdminValues.isZeroDuration(text) { return DurationArgument(seconds: 0, text: text) }
        guard let seconds = AdminValues.durationSeconds(text) else {
            throw ArgumentValueError(description: AdminValues.durationRule + ", or 0")
        }
        return DurationArgument(seconds: seconds, text: text)
    }
}

/// `--deadline`: a duration, `0` (no deadline, as `polling.deadline_s: 0`), or `auto` (from the
/// segment's history; any letter case).
enum DeadlineArgument: Equatable, Sendable {
    case auto
    case noDeadline
    case seconds(Int64)

    static func parse(_ text: String) throws -> DeadlineArgument {
        if text.lowercased() == "auto" { return .auto }
        if AdminValues.isZeroDuration(text) { return .noDeadline }
        guard let seconds = AdminValues.durationSeconds(text) else {
            throw ArgumentValueError(
                description: AdminValues.durationRule + ", 0 for no deadline, or auto (from the segment's history)")
        }
        return .seconds(seconds)
    }
}

extension TokenState {
    /// `--state` of `list`: a state's exact name.
    static func parseArgument(_ text: String) throws -> TokenState {
        guard let state = TokenState(rawValue: text) else {
            throw ArgumentValueError(description: "a token state is one of \(allowedValues)")
        }
        return state
    }
}

extension HookRunState {
    /// `--state` of `hooks list`: a state's exact name.
    static func parseArgument(_ text: String) throws -> HookRunState {
        guard let state = HookRunState(rawValue: text) else {
            throw ArgumentValueError(
                description: "a hook run state is one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return state
    }
}

extension ExportRequest.MatchCriteria {
    /// `--match-criteria` of `export`: a criterion's name, in any letter case.
    static func parseArgument(_ text: String) throws -> ExportRequest.MatchCriteria {
        guard let criteria = allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
            throw ArgumentValueError(description: "one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return criteria
    }
}

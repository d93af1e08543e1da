import MprefCore
import ArgumentParser
import Foundation
import MprefStore
import Logging

/// `mprefd`: watches MyPreferences async-export access tokens; the daemon and its admin commands.
@main
struct MprefCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mprefd",
        abstract: "Watch PossibleNOW MyPreferences async-export access tokens until their exports finish.",
        discussion: """
            Admin commands work on the SQLite database while the daemon runs (they wait up to \
            database.busy_timeout_s for its write lock).

            Examples:
              mprefd add-token --client-id ACME_Co 123456 --label "nightly contacts"
              mprefd list --state watching
              mprefd show 123456 --history 20
              mprefd check-config --config /etc/mprefd/mprefd.yaml
              mprefd run --config /etc/mprefd/mprefd.yaml   # the daemon
              mprefd add-token "$T" && mprefd wait "$T" && load-export "$T"

            \(ExitCode.helpTable)
            """,
        version: MprefVersion.current,
        subcommands: [
            AddToken.self,
            List.self,
            Show.self,
            Remove.self,
            Pause.self,
            Resume.self,
            Migrate.self,
            CheckConfig.self,
            Run.self,
            Status.self,
            Wait.self,
            Download.self,
            Export.self,
            Cursors.self,
            Hooks.self,
        ]
    )

    /// What `mprefd ARGUMENTS` comes to before anything runs: a command, or an exit with its output.
    enum ParseOutcome {
        /// A command to run; for `--help`, ArgumentParser's help command (running it prints the help).
        case command(any ParsableCommand)
        /// `--version`: `stdout`, exit 0. A usage error: one line for stderr, exit 64 (or the code
        /// ArgumentParser gives, e.g. a `validate()` that throws `ExitCode`). Texts without their
        /// final newline.
        case exit(ExitCode, stdout: String?, stderr: String?)
    }

    /// Parses `arguments` (the command line without the program name): pure, no output, no exit; what
    /// ``main()`` prints and exits with on a parse failure, decided here, so that tests can read it in
    /// process.
    static func parse(_ arguments: [String]) -> ParseOutcome {
        let valueLike = valueLikeArgument(in: arguments)
        do {
            let command = try parseAsRoot(arguments)
            // No command accepts a value like `-5` or `-1h` before `--` (ArgumentParser refuses it, or
            // reads `-1h` as `-1 -h`, a help request): a parse that got past one still names it.
            if valueLike != nil {
                return parseFailure(
                    ValidationError("a value read as options"), arguments: arguments, valueLike: valueLike)
            }
            return .command(command)
        } catch {
            return parseFailure(error, arguments: arguments, valueLike: valueLike)
        }
    }

    /// Parses the command line (``parse(_:)``: help, the version or a usage error is printed here and
    /// exits), then runs the command; prints `mprefd: error: …` and exits with the documented code for
    /// ``MprefdError`` and `StoreError`.
    static func main() async {
        let code: ExitCode
        var command: any ParsableCommand
        switch parse(Array(CommandLine.arguments.dropFirst())) {
        case .command(let parsed):
            command = parsed
        case .exit(let status, let stdout, let stderr):
            fflush(nil)
            if let stdout { Output.line(stdout) }
            if let stderr { Output.note(stderr) }
            fflush(nil)
            Foundation.exit(status.rawValue)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            code = ExitCode.success
        } catch let error as MprefdError {
            code = report(error)
        } catch let error as StoreError {
            code = report(MprefdError(error))
        } catch let error as DecodingError {
            code = report(MprefdError(exitCode: ExitCode.dataError, unreadableRow(Self.describe(error))))
        } catch let exitCode as ExitCode {
            // The command has said everything already (`status` degraded, `check-config --probe`).
            code = exitCode
        } catch {
            fflush(nil)
            exit(withError: error)
        }
        fflush(nil)
        Foundation.exit(code.rawValue)
    }

    /// What a failed parse prints and exits with, from ArgumentParser's error (`error`): exit 64 for a
    /// bad argument or value, with one line on stderr, `mprefd: error: …` as every other error, naming
    /// the value, the rule and where help is; for a value such as `-5` before `--` (at `valueLike` in
    /// `arguments`, read as an option by ArgumentParser) it names that value and how to pass it
    /// instead. Exit 0 for `--version`, its text on stdout.
    private static func parseFailure(_ error: any Error, arguments: [String], valueLike: Int?) -> ParseOutcome {
        var code = exitCode(for: error)
        if code == .success, valueLike != nil { code = .validationFailure }
        if code == .success {
            return .exit(code, stdout: fullMessage(for: error), stderr: nil)
        } else if code == .validationFailure, let index = valueLike {
            let negative = arguments[index]
            let previous = index > 0 ? arguments[index - 1] : ""
            // `--option=-5` only for an option that takes a value (ArgumentParser says it is missing one).
            let takesValue =
                previous.hasPrefix("--") && !previous.contains("=")
                && message(for: error).contains("Missing value for '\(previous)")
            let spelling = takesValue ? "\(previous)=\(negative)" : "-- \(negative)"
            return .exit(
                code, stdout: nil,
                stderr:
                    "mprefd: error: '\(TerminalText.escaped(negative))' starts with '-', so it is read as an option; access tokens, counts and durations are positive (to pass it anyway, write \(TerminalText.escaped(spelling)))"
            )
        } else {
            return .exit(code, stdout: nil, stderr: "mprefd: error: " + oneLine(error))
        }
    }

    /// The index of the first argument before `--` that is a value starting with `-` and a digit
    /// (`-5`, `-1h`), which ArgumentParser reads as options; nil when there is none or help was asked
    /// for in so many words (`--help`, `-h`, `help`).
    static func valueLikeArgument(in arguments: [String]) -> Int? {
        let options = arguments.prefix(while: { $0 != "--" })
        guard !options.contains(where: { $0 == "--help" || $0 == "-h" || $0 == "help" }) else { return nil }
        return options.firstIndex { $0.count > 1 && $0.hasPrefix("-") && ($0.dropFirst().first?.isNumber ?? false) }
    }

    /// ArgumentParser's message for `error` on one line (its lines joined by "; ", without its
    /// `Error: ` prefix; control and bidi characters escaped), then where help is (`see 'mprefd wait --help'`).
    static func oneLine(_ error: any Error) -> String {
        let lines = message(for: error).split(whereSeparator: \.isNewline).map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        var text = lines.joined(separator: "; ")
        if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
        // "See 'mprefd wait --help' for more information." names the subcommand's help.
        let help = fullMessage(for: error).split(whereSeparator: \.isNewline).lazy.compactMap { line -> Substring? in
            guard let start = line.range(of: "See '"), let end = line[start.upperBound...].range(of: "'") else {
                return nil
            }
            return line[start.upperBound..<end.lowerBound]
        }.first
        // The value as typed is in the message: control and bidi characters are shown as escapes.
        return TerminalText.escaped(text) + (help.map { " (see '\($0)')" } ?? "")
    }

    /// The one line for a database row that cannot be read as the schema says (edited by hand).
    private static func unreadableRow(_ detail: String) -> String {
        "a row of the database cannot be read (\(detail)); find it with sqlite3 and repair it (README: \"A database edited by hand\")"
    }

    /// `column: problem` of a row decoding failure, one line.
    private static func describe(_ error: DecodingError) -> String {
        let (context, fallback): (DecodingError.Context?, String) =
            switch error {
            case .dataCorrupted(let c): (c, "corrupted value")
            case .keyNotFound(let key, let c): (c, "missing column \(key.stringValue)")
            case .typeMismatch(_, let c): (c, "wrong type")
            case .valueNotFound(_, let c): (c, "unexpected NULL")
            @unknown default: (nil, "unreadable value")
            }
        let column = context?.codingPath.last?.stringValue
        let text = context?.debugDescription.split(separator: "\n").first.map(String.init) ?? fallback
        return (column.map { "column \($0): " } ?? "") + String(text.prefix(200))
    }

    private static func report(_ error: MprefdError) -> ExitCode {
        fflush(nil)
        Output.note(
            "mprefd: error: \(TerminalText.escaped(error.message))", level: .error,
            metadata: ["exit_code": "\(error.exitCode.rawValue)"])
        return error.exitCode
    }
}

import ArgumentParser
import Testing

@testable import mprefd

/// Every command's `--help`, built in process.
///
/// This test binary is a debug build, where ArgumentParser checks each command's definition as it
/// builds its arguments (two options with one name, a flag that cannot be set, positionals in an
/// order that cannot parse) and stops the process on a mistake. The end-to-end tests run the release
/// binary, which skips those checks: they happen here, for every command.
@Suite struct CommandHelpTests {
    /// `mprefd` and every command under it, as the words that name it (`[]`, `["add-token"]`,
    /// `["cursors", "reset"]`, …).
    static let commandPaths: [[String]] = {
        func paths(_ command: any ParsableCommand.Type, _ path: [String]) -> [[String]] {
            [path]
                + command.configuration.subcommands.flatMap { sub in
                    paths(sub, path + [sub._commandName])
                }
        }
        return paths(MprefCommand.self, [])
    }()

    @Test func everyCommandIsCovered() {
        #expect(Self.commandPaths.count >= 18, "\(Self.commandPaths)")
        #expect(Self.commandPaths.contains(["cursors", "reset"]))
    }

    @Test(arguments: commandPaths)
    func helpIsBuiltAndNamesTheCommand(path: [String]) throws {
        guard case .command(let help) = MprefCommand.parse(path + ["--help"]) else {
            Issue.record("mprefd \(path.joined(separator: " ")) --help did not parse to the help command")
            return
        }
        #expect(String(describing: type(of: help)) == "HelpCommand")  // ArgumentParser's, internal there
        let type = try #require(Self.command(at: path))
        let text = MprefCommand.helpMessage(for: type, columns: 80)
        #expect(text.contains((["USAGE: mprefd"] + path).joined(separator: " ")), "\(text)")
    }

    /// The exit-code table of `mprefd --help` fits 80 columns as written: ArgumentParser would wrap a
    /// longer line mid-phrase.
    @Test func theExitCodeTableIsNotWrapped() {
        for line in ExitCode.helpTable.split(separator: "\n") {
            #expect(line.count < 80, "\(line.count) columns: \(line)")
        }
        #expect(MprefCommand.helpMessage(columns: 80).contains(ExitCode.helpTable))
    }

    private static func command(at path: [String]) -> (any ParsableCommand.Type)? {
        var command: any ParsableCommand.Type = MprefCommand.self
        for name in path {
            guard let sub = command.configuration.subcommands.first(where: { $0._commandName == name }) else {
                return nil
            }
            command = sub
        }
        return command
    }
}

import ArgumentParser
import MprefStore

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

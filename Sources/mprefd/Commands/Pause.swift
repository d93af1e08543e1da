import ArgumentParser
import MprefStore
import MprefCore

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

    func validate() throws {
        try selection.validateTokensOrAll()
    }

    func run() async throws {
        try await selection.apply(.pause, verb: "paused", eligible: .watching)
    }
}

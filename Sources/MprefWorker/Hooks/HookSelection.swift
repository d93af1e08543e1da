import Foundation
import MprefCore
import MprefStore

/// Which hook commands run for a terminal event, and its event id: the configured `hooks.on_*`
/// commands of the event's trigger (unless the token was added with `--no-global-hooks`), then the
/// token's own (`add-token --on-*`). Decided here, in the worker; the store persists the result in
/// the same transaction as the terminal state (``HookPlanner``).
package struct HookSelection: Sendable {
    /// The configured commands by trigger (`HookConfiguration.globalHooks`).
    package let global: [HookTrigger: [String]]
    /// Randomness for the event id (a version 4 UUID); injected so tests can replay it.
    private let makeRandom: @Sendable () -> any RandomNumberGenerator

    package init(
        global: [HookTrigger: [String]],
        makeRandom: @escaping @Sendable () -> any RandomNumberGenerator = { SystemRandomNumberGenerator() }
    ) {
        self.global = global
        self.makeRandom = makeRandom
    }

    /// The hook runs of `event` for a token with `settings`; `nil` when no command applies.
    package func plan(_ event: HookEvent, _ settings: TokenHookSettings) -> HookPlan? {
        let trigger = event.trigger
        let commands = (settings.globalHooks ? global[trigger] ?? [] : []) + (settings.own[trigger] ?? [])
        guard !commands.isEmpty else { return nil }
        var rng = makeRandom()
        return HookPlan(eventID: Self.eventID(using: &rng), event: event, commands: commands)
    }

    /// This selection as the store takes it.
    package var planner: HookPlanner { { event, settings in plan(event, settings) } }

    /// A random (version 4) UUID, lower-case.
    static func eventID(using rng: inout some RandomNumberGenerator) -> String {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let uuid = UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
        return uuid.uuidString.lowercased()
    }
}

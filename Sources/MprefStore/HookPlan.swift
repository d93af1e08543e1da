import MprefCore

/// What a token's rows say about its hooks (`tokens.global_hooks`, `token_hooks`): the facts the
/// store reads, inside the transaction that records a terminal state, for the worker to decide on.
package struct TokenHookSettings: Sendable, Hashable {
    /// `false` after `add-token --no-global-hooks`: only the token's own hooks run.
    package var globalHooks: Bool
    /// The token's own commands by trigger, in the order they were added.
    package var own: [HookTrigger: [String]]

    package init(globalHooks: Bool, own: [HookTrigger: [String]]) {
        self.globalHooks = globalHooks
        self.own = own
    }
}

/// The hook runs of one terminal event, as the worker decided them (`HookSelection`): the store only
/// inserts them, `pending`, in the same transaction as the state.
package struct HookPlan: Sendable, Hashable {
    /// `MPREFD_EVENT_ID`: stable across the retries of every run of this event.
    package var eventID: String
    package var event: HookEvent
    /// The commands to run, global ones first.
    package var commands: [String]

    package init(eventID: String, event: HookEvent, commands: [String]) {
        self.eventID = eventID
        self.event = event
        self.commands = commands
    }
}

/// The worker's decision, handed to the store: the hook runs for `event` given the token's
/// settings; `nil` when none run.
package typealias HookPlanner = @Sendable (HookEvent, TokenHookSettings) -> HookPlan?

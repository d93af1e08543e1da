import Foundation
import MprefCore
import MprefStore
import Testing
@testable import MprefWorker

/// Which hook commands run for a terminal event: decided in the worker, persisted by the store.
struct HookSelectionTests {
    let selection = HookSelection(
        global: [.complete: ["load"], .failure: ["page-oncall"]], makeRandom: { SeededRNG(state: 7) })

    @Test func globalCommandsFirstThenTheTokensOwn() throws {
        let plan = try #require(
            selection.plan(
                .complete, TokenHookSettings(globalHooks: true, own: [.complete: ["mine"], .expired: ["x"]])))
        #expect(plan.event == .complete && plan.commands == ["load", "mine"])
        // download_failed and timed_out run the failure hooks.
        #expect(
            selection.plan(.downloadFailed, TokenHookSettings(globalHooks: true, own: [:]))?.commands == ["page-oncall"]
        )
        #expect(selection.plan(.timedOut, TokenHookSettings(globalHooks: true, own: [:]))?.event == .timedOut)
    }

    @Test func noGlobalHooksKeepsOnlyTheTokensOwnAndNothingGivesNoPlan() {
        #expect(
            selection.plan(.complete, TokenHookSettings(globalHooks: false, own: [.complete: ["mine"]]))?.commands == [
                "mine"
            ])
        #expect(selection.plan(.complete, TokenHookSettings(globalHooks: false, own: [:])) == nil)
        #expect(selection.plan(.retrieved, TokenHookSettings(globalHooks: true, own: [:])) == nil)
    }

    @Test func theEventIDIsAVersion4UUIDDrawnFromTheInjectedGenerator() throws {
        let a = try #require(selection.plan(.complete, TokenHookSettings(globalHooks: true, own: [:]))).eventID
        let b = try #require(selection.plan(.complete, TokenHookSettings(globalHooks: true, own: [:]))).eventID
        #expect(a == b, "the same seed gives the same id")
        let uuid = try #require(UUID(uuidString: a))
        #expect(a == a.lowercased() && uuid.uuidString.lowercased() == a)
        #expect(Array(a)[14] == "4", "version 4: \(a)")
    }
}

import Foundation
@testable import MprefStore
import Testing
@testable import MprefWorker

struct HookPayloadTests {
    /// `variableNames` is what `mprefd` exempts from its check of `MPREFD_*` overrides (a hook may run
    /// `mprefd`); it must list exactly what a hook gets, or such a hook would be refused with exit 78.
    @Test func variableNamesAreExactlyTheMPREFDVariablesAHookGets() {
        let job = HookJob(runID: 1, eventID: "e-1", event: "complete", command: "true", attempt: 1, clientID: "ACME_Co",
                          accessToken: 123, label: nil, status: "Complete", rowCount: nil, byteCount: nil,
                          addedAt: "2026-11-29T00:00:00.000Z", finishedAt: nil)
        let environment = HookPayload.environment(for: job, databasePath: "/var/lib/mprefd/mprefd.sqlite3", daemonEnvironment: [:])
        #expect(Set(environment.keys.filter { $0.hasPrefix("MPREFD_") }) == HookPayload.variableNames)
        #expect(Set(environment.keys).subtracting(HookPayload.variableNames) == ["PATH", "HOME", "LANG", "TZ"])
    }
}

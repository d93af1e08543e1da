import MprefCore
import Foundation
@testable import MprefStore
import Testing
@testable import MprefWorker

struct HookPayloadTests {
    /// `variableNames` is what `mprefd` exempts from its check of `MPREFD_*` overrides (a hook may run
    /// `mprefd`); it must list exactly what a hook gets, or such a hook would be refused with exit 78.
    @Test func variableNamesAreExactlyTheMPREFDVariablesAHookGets() {
        let job = HookJob(
            runID: 1, eventID: "e-1", event: .complete, command: "true", attempt: 1, clientID: "ACME_Co",
            accessToken: 123, label: nil, status: "Complete", rowCount: nil, byteCount: nil,
            addedAt: "2026-11-29T00:00:00.000Z", finishedAt: nil)
        let environment = HookPayload.environment(
            for: job, databasePath: "/var/lib/mprefd/mprefd.sqlite3", daemonEnvironment: [:])
        #expect(Set(environment.keys.filter { $0.hasPrefix("MPREFD_") }) == HookPayload.variableNames)
        #expect(Set(environment.keys).subtracting(HookPayload.variableNames) == ["PATH", "HOME", "LANG", "TZ"])
    }

    /// A `stuck` event's hook gets its elapsed seconds and the segment's p95, as variables and in the
    /// stdin JSON (numbers there); the other events get them empty / null.
    @Test func aStuckEventCarriesItsElapsedTimeAndTheSegmentsP95() throws {
        var job = HookJob(
            runID: 1, eventID: "e-1", event: .stuck, command: "true", attempt: 1, clientID: "ACME_Co",
            accessToken: 123, label: nil, status: "Processing", rowCount: nil, byteCount: nil,
            addedAt: "2026-11-29T00:00:00.000Z", finishedAt: nil, segment: "Newsletter",
            stuckElapsedSeconds: 5423.125, stuckP95Seconds: 1800)
        let environment = HookPayload.environment(for: job, databasePath: "/db", daemonEnvironment: [:])
        #expect(environment["MPREFD_EVENT"] == "stuck")
        #expect(environment["MPREFD_SEGMENT"] == "Newsletter")
        #expect(environment["MPREFD_STUCK_ELAPSED_S"] == "5423.125")
        #expect(environment["MPREFD_STUCK_P95_S"] == "1800.0")
        let stdin = try #require(
            try JSONSerialization.jsonObject(with: Data(HookPayload.standardInput(for: job, databasePath: "/db")))
                as? [String: Any])
        #expect((stdin["stuck_elapsed_s"] as? NSNumber)?.doubleValue == 5423.125)
        #expect((stdin["stuck_p95_s"] as? NSNumber)?.doubleValue == 1800)
        job.event = .complete
        job.stuckElapsedSeconds = nil
        job.stuckP95Seconds = nil
        #expect(
            HookPayload.environment(for: job, databasePath: "/db", daemonEnvironment: [:])["MPREFD_STUCK_ELAPSED_S"]
                == "")
        let other = try #require(
            try JSONSerialization.jsonObject(with: Data(HookPayload.standardInput(for: job, databasePath: "/db")))
                as? [String: Any])
        #expect(other["stuck_p95_s"] is NSNull)
    }
}

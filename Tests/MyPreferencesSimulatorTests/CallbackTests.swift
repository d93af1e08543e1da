import Foundation
import Testing

@testable import MyPreferencesSimulator

/// Issue 16 §3: a segment's exports whose initiate carried `CallbackURL` get one POST of their status
/// when they complete (here to a second simulator, which records the request), unless the segment's
/// `callback_failure_rate` drops it.
@Suite(.serialized) struct SimulatorCallbackTests {
    func book(_ entry: String) throws -> ScenarioBook {
        try JSONDecoder().decode(ScenarioBook.self, from: Data(#"{"segments": [\#(entry)]}"#.utf8))
    }

    /// Waits until `count` callbacks are recorded (checking the simulator's record; at most 30 s).
    func callbacks(of simulator: MyPreferencesSimulator, count: Int) async throws -> [SimulatedCallback] {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let records = await simulator.callbacks()
            if records.count >= count || ContinuousClock.now >= deadline { return records }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func aCompletedExportPostsItsStatusToTheCallbackURLOnce() async throws {
        try await withSimulator { receiver in
            try await withSimulator { simulator in
                await simulator.apply(
                    try book(#"{"name": "N", "records": 30, "processing_s": 0.2, "callback_delay_s": 0}"#))
                let url = "\(receiver.baseURL)/Async/RECEIVER/Export/Segment/cb-0123"
                let token = try await simulator.initiatedToken(segment: "N", body: #"{"CallbackURL": "\#(url)"}"#)
                let plain = try await simulator.initiatedToken(segment: "N")  // no CallbackURL: nothing sent
                let records = try await callbacks(of: simulator, count: 1)
                #expect(records.count == 1)
                let record = try #require(records.first)
                #expect(
                    record.accessToken == token && record.url == url && record.result == .sent
                        && record.httpStatus != nil)
                #expect(records.allSatisfy { $0.accessToken != plain })
                let received = await receiver.requests().filter { $0.method == "POST" && $0.path.hasSuffix("/cb-0123") }
                #expect(received.count == 1)
                // The callback was sent once the export was Complete: a poll now says so.
                #expect(try await simulator.statusCounts(accessToken: token).status == "Complete")
                // And it is listed over HTTP.
                let listed = try await simulator.control("/_sim/callbacks")
                let decoded = try JSONDecoder().decode([SimulatedCallback].self, from: Data(listed.body.utf8))
                #expect(decoded.map(\.url) == records.map(\.url) && decoded.map(\.result) == records.map(\.result))
            }
        }
    }

    @Test func aFailureRateOfOneDropsEveryCallback() async throws {
        try await withSimulator { simulator in
            await simulator.apply(
                try book(
                    #"{"name": "N", "records": 5, "processing_s": 0, "callback_delay_s": 0, "callback_failure_rate": 1}"#
                ))
            let token = try await simulator.initiatedToken(
                segment: "N", body: #"{"CallbackURL": "http://127.0.0.1:9/never"}"#)
            let records = try await callbacks(of: simulator, count: 1)
            #expect(records.map(\.result) == [.dropped] && records.first?.accessToken == token)
        }
    }
}

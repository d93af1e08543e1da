import Foundation
import GRDB
import Logging
import MprefCore
import MprefTestSupport
@testable import MprefStore
import Testing
@testable import MprefWorker

/// Issue 16 §4: a warning before a complete export that has not been delivered expires.
struct ExpiryWarningTests {
    static let now = Date(timeIntervalSince1970: 1_780_000_000)
    static func at(_ seconds: Double) -> String { Timestamp.format(now.addingTimeInterval(seconds)) }

    /// The rule as a table: (state, Expires, seconds left that are warned about, or nil).
    static let cases: [(TokenState, String?, Double?)] = [
        (.downloading, at(1800), 1800),  // within the hour
        (.downloading, at(3599.999), 3599.999),  // just inside
        (.downloading, at(3600), nil),  // exactly an hour away: not yet
        (.downloading, at(7200), nil),
        (.downloading, at(-60), -60),  // passed already, still not delivered
        (.downloadFailed, at(600), 600),  // gave up: `download --retry` can still save it
        (.downloading, nil, nil),  // no Expires
        (.downloading, "in 30 minutes", nil),  // an Expires that is not a timestamp
        (.downloading, "2026-13-45T99:00:00Z", nil),
        // Its format is undocumented: an explicit offset and nanoseconds read as the time they say.
        (.downloading, at(1800).replacingOccurrences(of: "Z", with: "+00:00"), 1800),
        (
            .downloading,
            Timestamp.format(now.addingTimeInterval(1800 + 7200)).replacingOccurrences(of: "Z", with: "+02:00"), 1800
        ),
        (
            .downloading,
            Timestamp.format(now.addingTimeInterval(1800 - 5400)).replacingOccurrences(of: "Z", with: "-0130"), 1800
        ),
        (.downloading, at(7200).replacingOccurrences(of: "Z", with: "+01:00"), nil),  // 3 h from now
        (.downloading, at(1800).replacingOccurrences(of: "Z", with: "000000Z"), 1800),
        (.downloading, at(1800).replacingOccurrences(of: "Z", with: "+24:00"), nil),  // no such offset
        (.complete, at(600), nil),  // delivered
        (.watching, at(600), nil),  // not complete yet
        (.paused, at(600), nil),
        (.expired, at(600), nil),
        (.failed, at(600), nil), (.retrieved, at(600), nil), (.timedOut, at(600), nil), (.removed, at(600), nil),
    ]

    @Test(arguments: cases.indices)
    func theRule(_ index: Int) {
        let (state, expires, expected) = Self.cases[index]
        let left = ExpiryRule.secondsLeft(state: state, expires: expires, now: Self.now)
        if let expected, let left {
            #expect(abs(left - expected) < 0.0005, "\(state) \(expires ?? "nil")")
        } else {
            #expect(left == nil && expected == nil, "\(state) \(expires ?? "nil"): \(String(describing: left))")
        }
    }

    @Test func theAdviceNamesTheCommand() {
        #expect(ExpiryRule.advice(state: .downloadFailed, accessToken: 42).contains("mprefd download --retry 42"))
        #expect(ExpiryRule.advice(state: .downloading, accessToken: 42).contains("mprefd show 42"))
    }

    /// One warning per token, not one per heartbeat; again only when its `Expires` changes or it
    /// qualifies anew after it stopped qualifying.
    @Test func eachTokenIsWarnedAboutOnce() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mprefd-expiry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try TokenDatabase(
            path: directory.appendingPathComponent("mprefd.sqlite3").path, mode: .readWrite)
        let ids = try AdminStore(database).addTokens(
            (1...4).map { NewToken(clientID: "ACME_Co", accessToken: AccessToken(Int64($0))) }, reset: false,
            now: Self.now
        ).map(\.token.id)
        func set(_ id: TokenID, _ state: TokenState, _ expires: String?) throws {
            try database.write { db in
                try db.execute(
                    sql: "UPDATE tokens SET state = ?, expires = ? WHERE id = ?",
                    arguments: [state.rawValue, expires, id])
            }
        }
        try set(ids[0], .downloading, Self.at(1800))
        try set(ids[1], .downloadFailed, Self.at(600))
        try set(ids[2], .downloading, Self.at(7200))  // later: warned once it is within the hour
        try set(ids[3], .complete, Self.at(600))  // delivered: never
        let clock = ManualClock(wallStart: Self.now)
        let log = InMemoryLogHandler()
        let watch = ExpiryWatch(
            database: DaemonStore(database), logger: Logger(label: "test", factory: { _ in log }),
            wallNow: { clock.wallNow })

        let first = await watch.check()
        #expect(first.map(\.accessToken) == [1, 2])
        #expect(
            first.first?.clientID == "ACME_Co" && first.first?.expires == Self.at(1800)
                && first.first?.secondsLeft == 1800)
        #expect(first.last?.state == .downloadFailed)
        for _ in 0..<3 { #expect(await watch.check().isEmpty, "once per token, not per heartbeat") }

        clock.advance(by: .seconds(3700))
        #expect(await watch.check().map(\.accessToken) == [3])
        #expect(await watch.check().isEmpty)
        // A new Expires is a new warning.
        try set(ids[0], .downloading, Self.at(4000))
        #expect(await watch.check().map(\.accessToken) == [1])
        // Delivered, then (re-armed) undelivered again: warned again.
        try set(ids[1], .complete, Self.at(600))
        #expect(await watch.check().isEmpty)
        try set(ids[1], .downloading, Self.at(600))
        #expect(await watch.check().map(\.accessToken) == [2])
        // The log has one warning line per warning returned, naming its token, in order.
        let warned = log.entries.filter {
            $0.level == .warning && $0.message == "export expires soon and is not delivered"
        }
        #expect(warned.map { $0.metadata["export.access_token"]?.description } == ["1", "2", "3", "1", "2"])
    }
}

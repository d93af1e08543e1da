import Foundation
import GRDB
import Logging
import MprefCore
@testable import MprefStore
@testable import MprefWorker
@testable import MyPreferences
@testable import mprefd
import NIOCore
import NIOHTTP1
import Testing

extension Reliability {
    /// The whole poll path fuzzed in process (issue 12): a generated HTTP answer (any code 100–599,
    /// any `Retry-After` and `Date` values — huge, negative, fractional, junk — any body) is
    /// classified by the client's classifier; a generated `tokens` row (every integer column over
    /// its full 64-bit range, timestamps over the whole representable range and malformed text,
    /// written with CHECKs off as `sqlite3` allows) is read by the daemon's loader; both go through
    /// `PollPolicy.decide` under a generated configuration, the log rendering (logfmt and JSON) and
    /// the store's commit into a real SQLite file.
    ///
    /// Properties, for every case: no trap (a crash prints `FUZZ_SEED=…`); an unusable row is a
    /// defect naming one of the columns the daemon reads, and nothing is written for it; a next delay
    /// exists exactly while the token is still watched, is within [min(backoff floor,
    /// `max_retry_after_s`, `auth_pause_s`, time to the deadline), max(`max_retry_after_s`,
    /// `auth_pause_s`, `max_delay_s`, floor) + pause jitter]; every log entry renders as one line
    /// (and as one JSON object); the commit succeeds under the schema's CHECKs; every timestamp it
    /// wrote (`polls.polled_at`, `tokens.next_poll_at`, `pauses.*`) parses back.
    ///
    /// 100,000 cases with `MPREFD_RELIABILITY=full`, 1,000 in `make test` (a smoke run beside the
    /// rest; about 300 unusable rows and 700 across the outcomes) (`FUZZ_CASES=N` overrides;
    /// `FUZZ_SEED=S` replays one case). A failing seed becomes a regular test in ``PollPathRegressions``.
    @Suite struct PollPathFuzzing {
        @Test func everyAnswerCrossedWithEveryRowIsDecidedRenderedAndStored() async throws {
            let replay = ReliabilityMode.environment["FUZZ_SEED"].flatMap(UInt64.init)
            let base = replay ?? ReliabilityMode.seed
            let count =
                replay != nil
                ? 1
                : ReliabilityMode.environment["FUZZ_CASES"].flatMap(Int.init)
                    ?? (ReliabilityMode.isFull ? 100_000 : 1_000)
            print("poll-path fuzzing: \(count) cases, SEED=\(base)")
            let bench = try PollPathBench()
            defer { bench.cleanUp() }
            FuzzCrashReporter.install()
            defer { FuzzCrashReporter.uninstall() }
            let started = ContinuousClock.now
            var failures: [String] = []
            var tally: [String: Int] = [:]
            var batch: [PollPathCase] = []
            for index in 0..<count {
                let seed = count == 1 ? base : FuzzCase.seed(base: base &+ 0x5A17, index: index)
                FuzzCrashReporter.current = seed
                let fuzzCase = try bench.prepare(seed: seed, tokenNumber: Int64(index) + 1)
                tally[fuzzCase.kind, default: 0] += 1
                failures += fuzzCase.problems.map { "FUZZ_SEED=\(seed): \($0)" }
                if fuzzCase.decision != nil { batch.append(fuzzCase) }
                if batch.count >= 64 || index == count - 1 {
                    failures += await bench.commit(batch)
                    batch.removeAll(keepingCapacity: true)
                }
                if failures.count >= 20 { break }
            }
            FuzzCrashReporter.current = 0
            failures += bench.finalChecks()
            print("poll-path fuzzing: done in \(ContinuousClock.now - started); \(tally.sorted { $0.key < $1.key })")
            #expect(
                failures.isEmpty,
                "failing cases (replay one with FUZZ_SEED=…, then add it to PollPathRegressions.seeds):\n\(failures.prefix(20).joined(separator: "\n"))"
            )
        }

        /// Seeds that once failed, or that cover a tricky path, replayed as regular tests.
        @Test(arguments: PollPathRegressions.seeds)
        func regression(seed: UInt64) async throws {
            let bench = try PollPathBench()
            defer { bench.cleanUp() }
            let fuzzCase = try bench.prepare(seed: seed, tokenNumber: 1)
            var problems = fuzzCase.problems
            if fuzzCase.decision != nil { problems += await bench.commit([fuzzCase]) }
            problems += bench.finalChecks()
            #expect(problems.isEmpty, "FUZZ_SEED=\(seed): \(problems)")
        }
    }
}

/// Replayed by `PollPathFuzzing.regression`: add a failing case's printed `FUZZ_SEED` here once fixed.
enum PollPathRegressions {
    static let seeds: [UInt64] = [1, 2, 3, 4, 5, 0xC0FFEE, 0x1234_5678_9ABC_DEF0]
}

/// One generated case, decided and checked up to the commit.
struct PollPathCase {
    var seed: UInt64
    var kind: String
    var decision: PollPolicy.Decision?
    var problems: [String] = []
}

/// A real SQLite file and the generators; `prepare` writes the case's row and decides it,
/// `commit` stores a batch of decisions the way the recorder does.
final class PollPathBench {
    let directory: URL
    let database: TokenDatabase
    static let hostKey = "https://pm.example:443"

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mprefd-pollfuzz-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        database = try TokenDatabase(path: directory.appendingPathComponent("fuzz.sqlite3").path, mode: .readWrite)
    }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }

    // MARK: generators

    static let extremeIntegers: [Int64] = [
        0, 1, 2, 3, 9, 10, 63, 64, 1023, 1024, .max, .max - 1, 4_294_967_296, Int64(Int32.max) + 1,
    ]

    /// A count column: mostly usable (≥ 0, up to `Int64.max`), one in twenty negative (a defect).
    static func integer(_ rng: inout SplitMix64) -> Int64 {
        switch Int.random(in: 0...19, using: &rng) {
        case 0: [Int64.min, .min + 1, -1, Int64.random(in: .min ... -1, using: &rng)].randomElement(using: &rng) ?? -1
        case 1...6: extremeIntegers.randomElement(using: &rng) ?? 0
        case 7...10: Int64.random(in: 0 ... .max, using: &rng)
        default: Int64.random(in: 0...20, using: &rng)
        }
    }

    /// SQL for a timestamp column: NULL, edges, random valid times over years 0000–9999, malformed text.
    static func timestampSQL(_ rng: inout SplitMix64) -> String {
        switch Int.random(in: 0...9, using: &rng) {
        case 0: return "NULL"
        case 1:
            return [
                "'0000-01-01T00:00:00.000Z'", "'9999-12-31T23:59:59.999Z'", "'1970-01-01T00:00:00.000Z'",
                "'2026-12-03 10:00:00'",
                "'2026-12-03T10:00:00.123456789Z'", "'2026-02-31T00:00:00.000Z'", "'2026-12-03T10:00:60Z'",
            ].randomElement(using: &rng) ?? "NULL"
        case 2:
            return [
                "'garbage'", "''", "'2026-13-01T00:00:00.000Z'", "'10000-01-01T00:00:00.000Z'",
                "'-001-01-01T00:00:00.000Z'",
                "'2026-12-03T10:00:00.Z'", "'2026-12-03T10:00:00.000Zjunk'", "'２０２６-12-03T10:00:00Z'",
                "'2026-12-03T10:00:00' || char(0)",
                "12345", "1.5",
            ].randomElement(using: &rng) ?? "''"
        case 3, 4:
            let ms = Int64.random(in: WallClock.earliestMilliseconds...WallClock.latestMilliseconds, using: &rng)
            return "'" + Timestamp.format(Date(timeIntervalSince1970: Double(ms) / 1000)) + "'"
        default:
            let around = 1_780_000_000 + Double(Int.random(in: -200_000...200_000, using: &rng))
            return "'" + Timestamp.format(Date(timeIntervalSince1970: around)) + "'"
        }
    }

    static func clockReading(_ rng: inout SplitMix64) -> Date {
        switch Int.random(in: 0...9, using: &rng) {
        case 0:
            return Date(
                timeIntervalSince1970: [1e300, -1e300, 253_402_300_799.999, -62_167_219_200, 0, 9.3e18].randomElement(
                    using: &rng) ?? 0)
        case 1: return Date(timeIntervalSince1970: Double.random(in: -1e13...1e13, using: &rng))
        default: return Date(timeIntervalSince1970: 1_780_000_000 + Double.random(in: -100_000...100_000, using: &rng))
        }
    }

    static func retryAfterValue(_ rng: inout SplitMix64, receivedAt: Date) -> String {
        switch Int.random(in: 0...9, using: &rng) {
        case 0: return String(Int.random(in: 0...5000, using: &rng))
        case 1:
            return [
                "9223372036854775807", "9223372036854775808", "99999999999999999999999999999999",
                "18446744073709551615", "9000000001",
            ]
            .randomElement(using: &rng) ?? "0"
        case 2:
            return [
                "-1", "-9223372036854775808", "1.5", "1e308", "inf", "NaN", "0x10", " 5 ", "\t7", "+3", "", "٣", "5 5",
            ].randomElement(using: &rng) ?? ""
        case 3:
            return FuzzGenerator.imfFixdate(
                WallClock.seconds(receivedAt) &+ Int64.random(in: -100_000...100_000, using: &rng))
        case 4:
            return [
                "Fri, 31 Dec 9999 23:59:59 GMT", "Sat, 01 Jan 0000 00:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT",
                "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 UTC",
            ].randomElement(using: &rng) ?? ""
        default:
            var generator = FuzzGenerator(caseSeed: rng.next())
            return generator.retryAfter().values.first ?? ""
        }
    }

    static func httpStatus(_ rng: inout SplitMix64) -> Int {
        switch Int.random(in: 0...9, using: &rng) {
        case 0...2: 200
        case 3: [503, 429].randomElement(using: &rng) ?? 503
        case 4: [400, 401, 403, 404].randomElement(using: &rng) ?? 404
        case 5: [500, 502, 504, 599].randomElement(using: &rng) ?? 500
        default: Int.random(in: 100...599, using: &rng)
        }
    }

    static func configuration(_ rng: inout SplitMix64) -> PollingConfiguration {
        var c = PollingConfiguration()
        func seconds(_ choices: [Double]) -> Duration { .clampedSeconds(choices.randomElement(using: &rng) ?? 1) }
        c.initialDelay = seconds([0.001, 0.2, 10, 1_000_000_000])
        c.maxDelay = seconds([0.001, 0.5, 300, 1_000_000_000])
        c.multiplier = [1, 2, 1.5, 1e6].randomElement(using: &rng) ?? 2
        c.maxRetryAfter = seconds([0, 1, 3600, 1_000_000_000])
        c.pauseJitter = seconds([0, 2, 1_000_000_000])
        c.notFoundLimit = [1, 3, Int.max].randomElement(using: &rng) ?? 3
        c.authPause = seconds([0, 900, 1_000_000_000])
        return c
    }

    // MARK: one case

    func prepare(seed: UInt64, tokenNumber: Int64) throws -> PollPathCase {
        var rng = SplitMix64(seed: seed)
        var fuzzCase = PollPathCase(seed: seed, kind: "")

        // The row, as an operator with sqlite3 may leave it (CHECKs may be off).
        let checksOff = Int.random(in: 0...19, using: &rng) == 0
        var clientID = "ACME_Co"
        var accessToken = tokenNumber
        if checksOff {
            switch Int.random(in: 0...2, using: &rng) {
            case 0: accessToken = [0, -1, .min].randomElement(using: &rng) ?? 0; clientID += "-\(tokenNumber)"
            case 1: clientID = ""
            default: clientID = String(repeating: "x", count: 129)
            }
        }
        let columns =
            "attempt = \(Self.integer(&rng)), consecutive_errors = \(Self.integer(&rng)), consecutive_not_found = \(Self.integer(&rng)), "
            + "next_poll_at = \(Self.timestampSQL(&rng)), deadline_at = \(Self.timestampSQL(&rng))"
        let (rowClientID, rowAccessToken) = (clientID, accessToken)
        let decoded: Result<WatchedToken, TokenRowDefect>? = try database.write { db in
            if checksOff { try db.execute(sql: "PRAGMA ignore_check_constraints = ON") }
            defer { if checksOff { try? db.execute(sql: "PRAGMA ignore_check_constraints = OFF") } }
            try db.execute(
                sql:
                    "INSERT INTO tokens (client_id, access_token, added_at, next_poll_at) VALUES (?, ?, '2026-12-03T10:00:00.000Z', NULL)",
                arguments: [rowClientID, rowAccessToken])
            let id = db.lastInsertedRowID
            // Each value alone: an operator's UPDATE may also fail a STRICT type check; that row is then simply not edited.
            try? db.execute(sql: "UPDATE tokens SET \(columns) WHERE id = ?", arguments: [id])
            return try Row.fetchOne(db, sql: "SELECT \(WatchedToken.columns) FROM tokens WHERE id = ?", arguments: [id])
                .map(WatchedToken.decode)
        }
        guard let decoded else { fuzzCase.problems.append("the inserted row is gone"); return fuzzCase }

        let token: WatchedToken
        switch decoded {
        case .failure(let defect):
            fuzzCase.kind = "unusable row (\(defect.column))"
            let readColumns = WatchedToken.columns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if !readColumns.contains(defect.column) {
                fuzzCase.problems.append("a defect names \(defect.column), which the daemon does not read")
            }
            if defect.value.contains("\n") || defect.repair.contains("\n") {
                fuzzCase.problems.append("a defect renders on several lines")
            }
            return fuzzCase
        case .success(let usable):
            token = usable
        }

        // The answer, through the client's own classifier.
        let receivedAt = Self.clockReading(&rng)
        let status = Self.httpStatus(&rng)
        var headers = HTTPHeaders()
        if Int.random(in: 0...2, using: &rng) > 0 {
            let value = Self.retryAfterValue(&rng, receivedAt: receivedAt)
            headers.add(name: "Retry-After", value: value)
            if Int.random(in: 0...9, using: &rng) == 0 {
                headers.add(name: "Retry-After", value: Bool.random(using: &rng) ? value : "1")
            }
        }
        if Bool.random(using: &rng) {
            headers.add(
                name: "Date",
                value: Bool.random(using: &rng)
                    ? FuzzGenerator.imfFixdate(WallClock.seconds(receivedAt))
                    : Self.retryAfterValue(&rng, receivedAt: receivedAt))
        }
        var bodyGenerator = FuzzGenerator(caseSeed: rng.next())
        let body = bodyGenerator.body()
        if let contentType = body.contentType { headers.add(name: "Content-Type", value: contentType) }
        let outcome = ResponseClassifier.outcome(
            status: status, headers: headers, body: ByteBuffer(bytes: body.bytes), receivedAt: receivedAt)
        let latency: Duration =
            [.zero, .milliseconds(Int64.random(in: 0...60_000, using: &rng)), .seconds(Int64.max), .seconds(-1)]
            .randomElement(using: &rng) ?? .zero
        let result = PollResult(outcome: outcome, httpStatus: status, latency: latency)
        fuzzCase.kind = "\(outcome.kind.rawValue)"

        // The decision.
        let configuration = Self.configuration(&rng)
        let polledAt = Self.clockReading(&rng)
        let now = Bool.random(using: &rng) ? polledAt : Self.clockReading(&rng)
        var decisionRNG = SplitMix64(seed: rng.next())
        let decision = PollPolicy(configuration: configuration).decide(
            token: token, result: result, polledAt: polledAt, now: now, hostKey: Self.hostKey,
            accountNotFoundElsewhere: [0, 0, 1, 2, 5, Int.max].randomElement(using: &rng) ?? 0, using: &decisionRNG)
        fuzzCase.decision = decision
        fuzzCase.problems += Self.delayProblems(decision, token: token, configuration: configuration, now: now)

        // The log rendering, both formats.
        for entry in PollLog.entries(for: decision, pauseChange: .started, debugEnabled: true) {
            for format in [LogFormat.logfmt, .json] {
                let line = StderrLogHandler.format(
                    timestamp: Timestamp.format(now), level: entry.level, message: "\(entry.message)",
                    metadata: entry.metadata, format: format)
                if line.contains("\n") || line.contains("\r") {
                    fuzzCase.problems.append("a \(format) log line spans several lines: \(line.prefix(200))")
                }
                if format == .json, (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] == nil
                {
                    fuzzCase.problems.append("a JSON log line is not one JSON object: \(line.prefix(200))")
                }
            }
        }
        return fuzzCase
    }

    /// The delay bounds of the documented policy.
    static func delayProblems(
        _ decision: PollPolicy.Decision, token: WatchedToken, configuration c: PollingConfiguration, now: Date
    ) -> [String] {
        let w = decision.write
        guard w.newState == .watching else {
            return decision.nextDelay == nil && w.nextPollAt == nil
                ? [] : ["a finished token (\(w.newState)) still has a next poll"]
        }
        guard let delay = decision.nextDelay else { return ["a watched token has no next delay"] }
        let floor = Backoff(initial: c.initialDelay, max: c.maxDelay, multiplier: c.multiplier).floorSeconds
        let jitter = max(c.pauseJitter.seconds, 0.001)
        var low = min(floor, c.maxRetryAfter.seconds, c.authPause.seconds)
        if let deadline = token.deadlineAt { low = min(low, max(0, deadline.timeIntervalSince(now))) }
        let high = max(c.maxRetryAfter.seconds, c.authPause.seconds, c.maxDelay.seconds, floor) + jitter
        let seconds = delay.seconds
        var problems: [String] = []
        if !(seconds.isFinite && seconds >= 0) {
            problems.append("delay \(seconds) s is not a finite non-negative number")
        }
        if seconds < low - 0.001 { problems.append("delay \(seconds) s is below the floor \(low) s") }
        if seconds > high + 0.001 { problems.append("delay \(seconds) s is above \(high) s") }
        if let next = w.nextPollAt, Timestamp.parse(Timestamp.format(next)) == nil {
            problems.append("next_poll_at does not read back")
        }
        return problems
    }

    // MARK: the store

    /// Commits the batch like the recorder (one transaction; each alone if it fails) and checks what was written.
    func commit(_ batch: [PollPathCase]) async -> [String] {
        let decisions = batch.compactMap(\.decision)
        do {
            _ = try await DaemonStore(database).recordPolls(
                decisions.map(\.write), pauses: decisions.compactMap(\.pause),
                hooks: HookSelection(global: [.complete: ["true"]]).planner)
        } catch {
            var problems: [String] = []
            for one in batch {
                guard let decision = one.decision else { continue }
                do {
                    _ = try await DaemonStore(database).recordPolls(
                        [decision.write], pauses: decision.pause.map { [$0] } ?? [],
                        hooks: HookSelection(global: [.complete: ["true"]]).planner)
                } catch {
                    problems.append("FUZZ_SEED=\(one.seed): the commit failed: \(error)")
                }
            }
            if !problems.isEmpty { return problems }
        }
        let ids = decisions.map { String($0.write.tokenID.value) }.joined(separator: ",")
        do {
            let unreadable = try database.read { db in
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT 'polls.polled_at ' || polled_at FROM polls WHERE token_id IN (\(ids))
                        UNION ALL SELECT 'tokens.next_poll_at ' || next_poll_at FROM tokens WHERE id IN (\(ids)) AND next_poll_at IS NOT NULL
                        UNION ALL SELECT 'tokens.last_polled_at ' || last_polled_at FROM tokens WHERE id IN (\(ids)) AND last_polled_at IS NOT NULL
                        UNION ALL SELECT 'tokens.finished_at ' || finished_at FROM tokens WHERE id IN (\(ids)) AND finished_at IS NOT NULL
                        UNION ALL SELECT 'pauses.paused_until ' || paused_until FROM pauses
                        UNION ALL SELECT 'pauses.started_at ' || started_at FROM pauses
                        """)
            }.filter { entry in
                guard let space = entry.firstIndex(of: " ") else { return true }
                return Timestamp.parse(String(entry[entry.index(after: space)...])) == nil
            }
            return unreadable.isEmpty ? [] : ["timestamps written that do not read back: \(unreadable.prefix(5))"]
        } catch {
            return ["cannot read back the batch: \(error)"]
        }
    }

    /// The file as a whole: intact, and every row the daemon wrote still loadable.
    func finalChecks() -> [String] {
        do {
            let check = try database.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
            return check == ["ok"] ? [] : ["quick_check: \(check.prefix(5))"]
        } catch {
            return ["quick_check failed: \(error)"]
        }
    }
}

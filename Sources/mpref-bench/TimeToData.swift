import AsyncHTTPClient
import Foundation
import GRDB
import MprefCore
import MprefStore
import MprefWorker
import NIOCore
import NIOHTTP1

/// `mpref-bench time-to-data [--exports N] [--spacing S] [--seed N] [--json]`: time to data end to end
/// (docs/BENCHMARKS.md §8, issue 16 §5) — from the moment the simulator's export became `Complete` to
/// the moment the `complete` hook started with the downloaded file, through the real `mprefd` and
/// `mpref-sim` binaries (built beside this one), once with polling alone and once with callbacks.
///
/// Per mode: a fresh `mpref-sim` (so access tokens, and with them the exports' drawn durations, are
/// the same in both modes) with one segment (log-normal durations, median 20 s, σ 0.3; 5,000 records;
/// callback 0.5 s after completion, 2 % lost); a fresh database holding that segment's history (the
/// same 30 past durations `mpref-bench detection` fits its model from); `mprefd run` with default
/// polling; `mprefd export` every `--spacing` seconds (exports overlap). Per export: the finish
/// (`ready_at` of `GET /_sim/initiations`), the first poll that saw `Complete` and the poll count
/// (`polls`), the commit (`downloads.committed_at`), and the hook's start (the hook's first command
/// writes `date +%s.%N` to a file named by `MPREFD_ACCESS_TOKEN`, with the file's line count).
enum TimeToData {
    static let clientID = "BENCH"
    static let segmentName = "Nightly"
    /// The segment: recurring, short but shaped like the detection benchmark's (σ 0.3).
    static let segment = Detection.Segment(name: "20 s", medianSeconds: 20, sigma: 0.3, recurring: true)
    static let records = 5000
    static let callbackDelay = 0.5
    static let callbackFailureRate = 0.02
    static let historyCount = 30
    /// Access tokens of the seeded history start here (the simulator's own count from 1).
    static let historyFirstToken: Int64 = 900_001

    enum Mode: String, CaseIterable, Codable {
        case polling
        case callbacks
    }

    /// One export's timeline, seconds since the Unix epoch (`finish`, `completePoll`, `committed`, `hookStarted`).
    struct ExportTimes: Codable {
        var accessToken: Int64
        var finish: Double?
        var completePoll: Double?
        var committed: Double?
        var hookStarted: Double?
        var polls: Int
        var fileRecords: Int?
        var callback: String?

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token", finish, completePoll = "complete_poll", committed, hookStarted =
                "hook_started", polls
            case fileRecords = "file_records", callback
        }

        var timeToData: Double? { zip(finish, hookStarted).map { $1 - $0 } }
        var detection: Double? { zip(finish, completePoll).map { $1 - $0 } }
        var delivery: Double? { zip(completePoll, hookStarted).map { $1 - $0 } }
        var commitToHook: Double? { zip(committed, hookStarted).map { $1 - $0 } }

        private func zip(_ a: Double?, _ b: Double?) -> (Double, Double)? {
            guard let a, let b else { return nil }
            return (a, b)
        }
    }

    /// mean, p50, p95, max of a figure over the exports that have it.
    struct Stats: Codable {
        var count: Int
        var mean: Double
        var p50: Double
        var p95: Double
        var max: Double

        init(_ values: [Double]) {
            let sorted = values.sorted()
            count = sorted.count
            mean = sorted.isEmpty ? .nan : sorted.reduce(0, +) / Double(sorted.count)
            p50 = Bench.percentile(sorted, 50)
            p95 = Bench.percentile(sorted, 95)
            max = sorted.last ?? .nan
        }

        var text: String { count == 0 ? "–" : String(format: "%.2f / %.2f / %.2f / %.2f", mean, p50, p95, max) }
    }

    struct ModeResult: Codable {
        var mode: Mode
        var started: Int
        var delivered: Int
        var timeToData: Stats
        var detection: Stats
        var delivery: Stats
        var commitToHook: Stats
        var polls: Stats
        var callbacksSent: Int
        var callbacksLost: Int
        var exports: [ExportTimes]

        enum CodingKeys: String, CodingKey {
            case mode, started, delivered, timeToData = "time_to_data_s", detection = "detection_s", delivery =
                "download_and_hook_s"
            case commitToHook = "commit_to_hook_s", polls = "polls_per_export", callbacksSent = "callbacks_sent",
                callbacksLost = "callbacks_lost", exports
        }
    }

    struct ModelRow: Codable {
        var policy: String
        var meanS: Double
        var p50S: Double
        var p95S: Double
        var polls: Double

        enum CodingKeys: String, CodingKey { case policy, meanS = "mean_s", p50S = "p50_s", p95S = "p95_s", polls }

        init(_ row: Detection.Row, policy: String) {
            self.policy = policy
            meanS = row.meanS
            p50S = row.p50S
            p95S = row.p95S
            polls = row.polls
        }
    }

    struct Report: Codable {
        var seed: UInt64
        var build: String
        var exports: Int
        var spacingS: Double
        var medianS: Double
        var sigma: Double
        var records: Int
        var callbackDelayS: Double
        var callbackFailureRate: Double
        var history: Int
        var modelExports: Int
        var modes: [ModeResult]
        var model: [ModelRow]

        enum CodingKeys: String, CodingKey {
            case seed, build, exports, spacingS = "spacing_s", medianS = "median_s", sigma, records, callbackDelayS =
                "callback_delay_s"
            case callbackFailureRate = "callback_failure_rate", history, modelExports = "model_exports", modes, model
        }
    }

    static var build: String {
        #if DEBUG
            "debug"
        #else
            "release"
        #endif
    }

    static func run(_ options: Options) async throws {
        let seed = UInt64(max(options.seed ?? 1, 0))
        let exports = min(max(options.exports ?? 30, 1), 500)
        let spacing = min(max(options.spacing ?? 1.5, 0.1), 60)
        let bin = Bench.binDirectory
        for tool in ["mprefd", "mpref-sim"] where !FileManager.default.isExecutableFile(atPath: bin + "/" + tool) {
            throw BenchError(
                "\(bin)/\(tool) not found: build it beside mpref-bench (`swift build --product \(tool)`, same configuration)"
            )
        }
        let root = try Bench.freshDirectory("time-to-data")
        let history = Detection.durations(segment, index: 0, seed: seed, history: historyCount, exports: 0).history
        var modes: [ModeResult] = []
        for mode in Mode.allCases {
            modes.append(
                try await measure(mode, root: root, history: history, seed: seed, exports: exports, spacing: spacing))
        }
        let modelExports = 2000
        let model = try self.model(seed: seed, exports: modelExports)
        let report = Report(
            seed: seed, build: build, exports: exports, spacingS: spacing, medianS: segment.medianSeconds,
            sigma: segment.sigma,
            records: records, callbackDelayS: callbackDelay, callbackFailureRate: callbackFailureRate,
            history: historyCount,
            modelExports: modelExports, modes: modes, model: model)
        if options.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(
                positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            FileHandle.standardOutput.write(try encoder.encode(report))
            print()
        } else {
            printMarkdown(report, root: root)
        }
        fflush(nil)
    }

    // MARK: One mode through the real binaries

    static func measure(_ mode: Mode, root: String, history: [Double], seed: UInt64, exports: Int, spacing: Double)
        async throws -> ModeResult
    {
        let dir = root + "/" + mode.rawValue
        let hooks = dir + "/hooks"
        try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
        let scenarios = dir + "/scenarios.json"
        // Records spread over the last day; none changes during the run, so every export holds them all.
        try """
        {"segments": [{"name": "\(segmentName)", "client_id": "\(clientID)", "records": \(records), "seed": \(seed),
          "duration": {"median_s": \(segment.medianSeconds), "sigma": \(segment.sigma)},
          "callback_delay_s": \(callbackDelay), "callback_failure_rate": \(callbackFailureRate)}]}

        """.write(toFile: scenarios, atomically: true, encoding: .utf8)
        let sim = try SimProcess(
            binary: Bench.binDirectory + "/mpref-sim", scenarios: scenarios, directory: dir, log: dir + "/mpref-sim.log"
        )
        defer { sim.stop() }
        let database = dir + "/mprefd.sqlite3"
        try seedHistory(database: database, durations: history)
        let callbackPort = mode == .callbacks ? try freeLoopbackPort() : nil
        let config = dir + "/mprefd.yaml"
        try configuration(
            database: database, sim: sim, exportsDirectory: dir + "/exports", hooks: hooks, callbackPort: callbackPort
        )
        .write(toFile: config, atomically: true, encoding: .utf8)
        let log = dir + "/mprefd.log"
        let daemon = try Download.startDaemon(config: config, log: log)
        defer {
            if daemon.isRunning {
                daemon.terminate()
                daemon.waitUntilExit()
            }
        }
        try await waitForDaemon(daemon, database: database, callbackPort: callbackPort, log: log)
        Bench.note(
            "time-to-data \(mode.rawValue): simulator port \(sim.port), daemon pid \(daemon.processIdentifier), \(exports) exports \(spacing) s apart"
        )

        // The exports, one every `spacing` seconds (each `mprefd export` initiates and adds its token).
        var tokens: [Int64] = []
        let t0 = Bench.monotonicSeconds()
        for i in 0..<exports {
            let wait = t0 + Double(i) * spacing - Bench.monotonicSeconds()
            if wait > 0 { try await Task.sleep(for: .milliseconds(Int64(saturating: (wait * 1000).rounded()))) }
            let out = dir + "/export-\(i).out"
            _ = try Admin.timed(
                Bench.binDirectory + "/mprefd", ["export", segmentName, "--config", config], stdout: out)
            guard
                let token = Int64(
                    (try String(contentsOfFile: out, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))
            else {
                throw BenchError("mprefd export printed no access token; see \(out) and \(log)")
            }
            tokens.append(token)
        }

        // Until every hook has started (its file is there), or far beyond the slowest plausible export.
        let deadline = Bench.monotonicSeconds() + segment.medianSeconds * exp(5 * segment.sigma) + 120
        while tokens.contains(where: { !FileManager.default.fileExists(atPath: hooks + "/\($0)") }) {
            guard daemon.isRunning else { throw BenchError("mprefd exited \(daemon.terminationStatus); see \(log)") }
            guard Bench.monotonicSeconds() < deadline else {
                Bench.note("time-to-data \(mode.rawValue): some hooks never started; see \(log)")
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        daemon.terminate()
        daemon.waitUntilExit()

        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let finishes: [Int64: Double]
        let callbacks: [Int64: String]
        do {
            finishes = try await simulatorList(http: http, port: sim.port, path: "/_sim/initiations").reduce(into: [:])
            { into, item in
                if let token = (item["access_token"] as? NSNumber)?.int64Value,
                    let ready = (item["ready_at"] as? String).flatMap(Timestamp.parse)
                {
                    into[token] = ready.timeIntervalSince1970
                }
            }
            callbacks = try await simulatorList(http: http, port: sim.port, path: "/_sim/callbacks").reduce(into: [:]) {
                into, item in
                if let token = (item["access_token"] as? NSNumber)?.int64Value, let result = item["result"] as? String {
                    into[token] = result
                }
            }
            try await http.shutdown()
        } catch {
            try? await http.shutdown()
            throw error
        }

        let store = try TokenDatabase(path: database, mode: .readOnly)
        var times: [ExportTimes] = []
        for token in tokens {
            let row = try store.read { db -> (polls: Int, complete: String?, committed: String?)? in
                try Row.fetchOne(
                    db,
                    sql: """
                        SELECT (SELECT count(*) FROM polls p WHERE p.token_id = t.id) AS polls,
                               (SELECT min(p.polled_at) FROM polls p WHERE p.token_id = t.id AND lower(p.status) = 'complete') AS complete_at,
                               (SELECT d.committed_at FROM downloads d WHERE d.token_id = t.id) AS committed_at
                        FROM tokens t WHERE t.client_id = ? AND t.access_token = ?
                        """, arguments: [clientID, token]
                ).map { ($0["polls"], $0["complete_at"], $0["committed_at"]) }
            }
            let seconds = { (text: String?) in text.flatMap(Timestamp.parse)?.timeIntervalSince1970 }
            var entry = ExportTimes(
                accessToken: token, finish: finishes[token], completePoll: seconds(row?.complete),
                committed: seconds(row?.committed), hookStarted: nil, polls: row?.polls ?? 0,
                fileRecords: nil, callback: callbacks[token])
            // The hook's file: "<epoch s.ns> <lines of MPREFD_FILE> <MPREFD_FILE>".
            if let text = try? String(contentsOfFile: hooks + "/\(token)", encoding: .utf8) {
                let fields = text.split(separator: " ")
                entry.hookStarted = fields.first.flatMap { Double($0) }
                entry.fileRecords = fields.count > 1 ? Int(fields[1]) : nil
            }
            times.append(entry)
        }
        let short = times.filter { $0.fileRecords.map { $0 != records } ?? false }
        if !short.isEmpty {
            Bench.note("time-to-data \(mode.rawValue): files without \(records) records: \(short.map(\.accessToken))")
        }
        let result = ModeResult(
            mode: mode, started: tokens.count, delivered: times.filter { $0.hookStarted != nil }.count,
            timeToData: Stats(times.compactMap(\.timeToData)), detection: Stats(times.compactMap(\.detection)),
            delivery: Stats(times.compactMap(\.delivery)), commitToHook: Stats(times.compactMap(\.commitToHook)),
            polls: Stats(times.map { Double($0.polls) }),
            callbacksSent: times.filter { $0.callback == "sent" }.count,
            callbacksLost: times.filter { $0.callback == "dropped" || $0.callback == "failed" }.count,
            exports: times)
        Bench.note(
            "time-to-data \(mode.rawValue): \(result.delivered)/\(result.started) delivered; time to data \(result.timeToData.text) s; polls \(result.polls.text)"
        )
        return result
    }

    /// The daemon's configuration: default polling (learned schedules at the default effort), downloads
    /// on, one `complete` hook that notes when it started; callbacks on loopback when `callbackPort` is set.
    static func configuration(
        database: String, sim: SimProcess, exportsDirectory: String, hooks: String, callbackPort: Int?
    ) -> String {
        // The hook's first command takes the time; then the delivered file's line count (one record a line).
        let hook =
            #"t=$(date +%s.%N); n=$(wc -l < "${MPREFD_FILE:-/dev/null}"); printf "%s %s %s\n" "$t" "$n" "${MPREFD_FILE:--}" > \#(hooks)/$MPREFD_ACCESS_TOKEN.tmp && mv \#(hooks)/$MPREFD_ACCESS_TOKEN.tmp \#(hooks)/$MPREFD_ACCESS_TOKEN"#
        var text = """
            database:
              path: \(database)
            log:
              level: info
            hooks:
              on_complete:
                - '\(hook)'
            accounts:
              \(clientID):
                base_url: \(sim.baseURL)
                allow_insecure_http: true
                download:
                  enabled: true
                  directory: \(exportsDirectory)

            """
        if let callbackPort {
            text += """
                callbacks:
                  listen: 127.0.0.1:\(callbackPort)
                  public_url: http://127.0.0.1:\(callbackPort)/mprefd/callback

                """
        }
        return text
    }

    /// The segment's past exports, as the daemon would have recorded them: token `historyFirstToken + i`
    /// added a day apart (the newest an hour ago), a `Processing` poll 50 ms before `durations[i]` and the
    /// `Complete` one 50 ms after — so `segmentDurations` reads back exactly `durations[i]`.
    static func seedHistory(database path: String, durations: [Double]) throws {
        let database = try TokenDatabase(path: path, mode: .readWrite)
        let newest = Date().addingTimeInterval(-3600)
        try database.write { db in
            for (i, duration) in durations.enumerated() {
                let added = newest.addingTimeInterval(-Double(durations.count - 1 - i) * 3600)
                let at = { (offset: Double) in Timestamp.format(added.addingTimeInterval(offset)) }
                let token = historyFirstToken + Int64(i)
                try db.execute(
                    sql: """
                        INSERT INTO tokens (client_id, access_token, state, added_at, finished_at, segment, last_status)
                        VALUES (?, ?, 'complete', ?, ?, ?, 'Complete')
                        """, arguments: [clientID, token, at(0), at(duration + 0.05), segmentName])
                let id = db.lastInsertedRowID
                try db.execute(
                    sql:
                        "INSERT INTO polls (token_id, polled_at, http_status, status, outcome) VALUES (?, ?, 200, 'Processing', 'ok')",
                    arguments: [id, at(duration - 0.05)])
                try db.execute(
                    sql:
                        "INSERT INTO polls (token_id, polled_at, http_status, status, outcome) VALUES (?, ?, 200, 'Complete', 'ok')",
                    arguments: [id, at(duration + 0.05)])
            }
        }
    }

    /// Until the daemon has written its heartbeat (and, with callbacks, its listener accepts connections).
    static func waitForDaemon(_ daemon: Process, database: String, callbackPort: Int?, log: String) async throws {
        let store = try TokenDatabase(path: database, mode: .readOnly)
        let deadline = Bench.monotonicSeconds() + 60
        while true {
            guard daemon.isRunning else { throw BenchError("mprefd exited \(daemon.terminationStatus); see \(log)") }
            guard Bench.monotonicSeconds() < deadline else {
                throw BenchError("mprefd did not start within 60 s; see \(log)")
            }
            let beating: Int =
                (try? store.read { db in
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM daemon WHERE heartbeat_at IS NOT NULL") ?? 0
                }) ?? 0
            if beating > 0, callbackPort.map(acceptsConnections) ?? true { return }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// A JSON array of objects from a `/_sim/…` control endpoint.
    static func simulatorList(http: HTTPClient, port: Int, path: String) async throws -> [[String: Any]] {
        let response = try await http.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        guard response.status == .ok,
            let list = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]]
        else {
            throw BenchError("GET \(path): HTTP \(response.status.code)")
        }
        return list
    }

    // MARK: The model beside it

    /// The detection model (`mpref-bench detection`, §7) for this segment and history: today's backoff,
    /// the learned schedule, and callbacks on — the safety net, with a callback `callbackDelay` after
    /// the finish (lost at `callbackFailureRate`).
    static func model(seed: UInt64, exports: Int) throws -> [ModelRow] {
        let result = try Detection.measure(
            segment, index: 0, seed: seed, exports: exports, historyCount: historyCount, learnedMaxDelay: nil)
        var rows: [ModelRow] = []
        if let today = result.rows.first(where: { $0.key == "mprefd_today" }) {
            rows.append(ModelRow(today, policy: "mprefd today (backoff, no history)"))
        }
        if let learned = result.rows.first(where: { $0.key == "mprefd_learned" }) {
            rows.append(ModelRow(learned, policy: "mprefd learned (polling only)"))
        }
        let (history, finishes) = Detection.durations(
            segment, index: 0, seed: seed, history: historyCount, exports: exports)
        let configuration = PollingConfiguration()
        // The daemon's callbacks mode: the export awaits its callback, so its scheduled polls are the
        // safety net (`callbacks.safety_interval_s` at its default), and the callback comes
        // `callbackDelay` after the finish unless it is lost.
        let safetyNet = CallbackSafetyNet(
            interval: CallbackSafetyNet.defaultInterval, forecast: CompletionForecast(durations: history))
        let callback = DetectionPolicies.CallbackModel(
            medianDelay: callbackDelay, sigma: 0, lossRate: callbackFailureRate)
        let policy = PollPolicy(configuration: configuration)
        let outcomes = try finishes.enumerated().map { i, finish in
            var rng = BenchRNG(seed: seed, stream: 2, index: UInt64(i))
            return try DetectionPolicies.mprefdWithCallbacks(
                policy, safetyNet: safetyNet, callback: callback, finish: finish, using: &rng)
        }
        let row = Detection.Row(policy: "", key: "", outcomes: outcomes)
        rows.append(
            ModelRow(
                row,
                policy: String(
                    format: "mprefd + callbacks (%.1f s, %.0f %% lost; safety net)", callbackDelay,
                    callbackFailureRate * 100)))
        return rows
    }

    // MARK: Output

    static func printMarkdown(_ report: Report, root: String) {
        print("## 8. Time to data, end to end (issue 16 §5)\n")
        print(
            String(
                format:
                    "Real `mprefd run` and `mpref-sim` (%@ build, each its own process) over loopback; files under `%@`. One segment: durations log-normal, median %.0f s, σ %.1f; %d records (5 pages); callback %.1f s after completion, %.0f %% lost. History: the same %d past durations the model fits (seed %llu). %d exports per mode, started %.1f s apart by `mprefd export`; default polling (learned schedule, effort %.1f). *Finish* = the simulator's `ready_at`; *Complete poll* = the first poll that saw `Complete` (`polls.polled_at`, when it was sent); *hook* = the `complete` hook's first command (`date +%%s.%%N`), run with `MPREFD_FILE` set. Seconds: mean / p50 / p95 / max.\n",
                report.build, root, report.medianS, report.sigma, report.records, report.callbackDelayS,
                report.callbackFailureRate * 100,
                report.history, report.seed, report.exports, report.spacingS, LearnedSchedule.defaultEffort))
        print(
            "| mode | delivered | **time to data** (finish → hook started) | detection (finish → Complete poll) | download + hook (Complete poll → hook started) | of which commit → hook | polls per export (mean / p50 / p95 / max) | callbacks sent / lost |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for m in report.modes {
            let callbacks = m.mode == .callbacks ? "\(m.callbacksSent) / \(m.callbacksLost)" : "–"
            print(
                "| \(m.mode.rawValue) | \(m.delivered) of \(m.started) | **\(m.timeToData.text)** | \(m.detection.text) | \(m.delivery.text) | \(m.commitToHook.text) | \(m.polls.text) | \(callbacks) |"
            )
        }
        print(
            "\nThe detection model (§7: virtual clock, \(report.modelExports) exports of the same segment, same history and seed) — its *delay* is the detection part above:\n"
        )
        print("| model | delay mean / p50 / p95 s | polls per export |")
        print("|---|---|---:|")
        for r in report.model {
            print(String(format: "| %@ | %.2f / %.2f / %.2f | %.2f |", r.policy, r.meanS, r.p50S, r.p95S, r.polls))
        }
        print("")
    }
}

/// A TCP port on 127.0.0.1 free at the moment of asking (bound to port 0, read back, closed).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket() failed: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw BenchError("bind() failed: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw BenchError("getsockname() failed: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func acceptsConnections(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(clamping: port)).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    } == 0
}

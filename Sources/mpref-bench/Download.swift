import AsyncHTTPClient
import Foundation
import MprefCore
import GRDB
import MprefStore
import NIOCore
import NIOHTTP1

/// Benchmark 6: downloads of completed exports by the real `mprefd` binary (built beside this one),
/// against the real simulator (`mpref-sim`, built beside it too) in its own process.
///
/// - **Throughput and RSS**: per run and export size (default 100,000 and 1,000,000 records), the
///   raw AsyncHTTPClient reads every page of another token of the same size (GET, collect the body,
///   nothing else, one page after the other as the download does), then `mprefd run` downloads the
///   export (poll → `Complete` → pages → verify → rename → commit), then the raw client reads a third
///   token. The download's time runs from its first page request (`download_requests.requested_at`)
///   to the commit (`downloads.committed_at`), both written by mprefd; the ratio divides its
///   records/s by the mean of the two raw phases. RSS: mprefd's `VmRSS` sampled every 100 ms and its
///   `VmHWM` at the end. The file's SHA-256 is compared with the simulator's canonical one after the
///   timed part.
/// - **kill -9**: `mprefd run` is killed with SIGKILL `--kills` times while it downloads a
///   `--kill-records` export (random moments once the checkpoint has advanced), restarted each
///   time; after each kill the pages the simulator served beyond the checkpoint are the pages that
///   will be fetched again.
enum Download {
    static let clientID = "BENCH"

    static func run(_ options: Options) async throws {
        let sizes = (options.sizes ?? "100000,1000000").split(separator: ",").compactMap { Int($0) }
        let killRecords = options.killRecords ?? 50_000
        let kills = options.kills ?? 5
        let pageSize = options.pageSize ?? 1000
        let runs = options.runs
        let bin = Bench.binDirectory
        for tool in ["mprefd", "mpref-sim"] where !FileManager.default.isExecutableFile(atPath: bin + "/" + tool) {
            throw BenchError(
                "\(bin)/\(tool) not found: build it with `swift build -c release --scratch-path .build-release --product \(tool)`"
            )
        }
        let root = try Bench.freshDirectory("download")
        // Tokens: size index s, run r, phase p (0 raw before, 1 mprefd, 2 raw after) → 1_000_000 + s·10_000 + r·10 + p.
        // Kill runs: 2_000_000 + r.
        var entries: [String] = []
        for (s, size) in sizes.enumerated() {
            for r in 1...runs {
                for p in 0..<3 { entries.append(scenarioEntry(token: token(size: s, run: r, phase: p), records: size)) }
            }
        }
        for r in 1...runs { entries.append(scenarioEntry(token: Int64(2_000_000 + r), records: killRecords)) }
        let scenarioFile = root + "/scenarios.json"
        try "{\"scenarios\": [\n\(entries.joined(separator: ",\n"))\n]}\n".write(
            toFile: scenarioFile, atomically: true, encoding: .utf8)
        let sim = try SimProcess(binary: bin + "/mpref-sim", scenarios: scenarioFile, directory: root)
        defer { sim.stop() }
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        Bench.note(
            "download: simulator pid \(sim.pid) port \(sim.port); sizes \(sizes), page size \(pageSize), \(runs) runs")

        print("## 6. Downloads\n")
        print(
            "Real `mprefd run` (release binary, its own process) downloading from `mpref-sim` (release binary, its own process, `--no-record`) over loopback; page size \(pageSize); files and database under `\(root)`. Raw = AsyncHTTPClient in the bench process, GET `…?limit=\(pageSize)&offset=…&keepAlive=true` of each page one after the other, body collected and dropped, against another token of the same size just before and just after the download (ratio = mprefd records/s ÷ mean of the two). mprefd's time runs from its first page request to its commit (both from its database); `polling.max_requests_per_second_per_host` raised to 100,000 so the per-host pace (default 50/s) does not cap the download. RSS = mprefd's process (VmRSS sampled every 100 ms; VmHWM at the end).\n"
        )
        print(
            "| records | run | raw AHC records/s (before / after) | raw MB/s | **mprefd records/s** | mprefd MB/s (file) | **ratio to raw** | mprefd CPU (cores) | simulator CPU (cores) raw / mprefd | **mprefd RSS max sampled / VmHWM** | file bytes | sha256 = canonical |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        fflush(nil)
        var summaries: [String] = []
        let part = options.part ?? "all"
        for (s, size) in sizes.enumerated() where part != "kill" {
            var rates: [Double] = [], mbs: [Double] = [], ratios: [Double] = [], hwms: [Double] = [],
                raws: [Double] = []
            for r in 1...runs {
                let raw1 = try await rawPhase(
                    http: http, sim: sim, token: token(size: s, run: r, phase: 0), records: size, pageSize: pageSize)
                let d = try await daemonPhase(
                    sim: sim, root: root, token: token(size: s, run: r, phase: 1), records: size, pageSize: pageSize,
                    run: r)
                let raw2 = try await rawPhase(
                    http: http, sim: sim, token: token(size: s, run: r, phase: 2), records: size, pageSize: pageSize)
                let rawMean = (raw1.recordsPerSecond + raw2.recordsPerSecond) / 2
                let ratio = d.recordsPerSecond / rawMean * 100
                let canonical = try await sim.export(http: http, token: token(size: s, run: r, phase: 1))
                let same = canonical?.sha256 == d.sha256 && canonical?.bytes == d.bytes
                rates.append(d.recordsPerSecond); mbs.append(d.bytesPerSecond / 1e6); ratios.append(ratio);
                hwms.append(d.hwm); raws.append(rawMean)
                print(
                    String(
                        format:
                            "| %d | %d | %.0f / %.0f | %.1f / %.1f | %.0f | %.1f | %.1f %% | %.2f | %.2f / %.2f | %.1f / %.1f MiB | %lld | ",
                        size, r, raw1.recordsPerSecond, raw2.recordsPerSecond, raw1.bytesPerSecond / 1e6,
                        raw2.bytesPerSecond / 1e6,
                        d.recordsPerSecond, d.bytesPerSecond / 1e6, ratio, d.cpu, (raw1.simCPU + raw2.simCPU) / 2,
                        d.simCPU,
                        d.rssMax, d.hwm, d.bytes) + (same ? "yes |" : "**NO** |"))
                fflush(nil)
                if !same {
                    Bench.note(
                        "sha256 mismatch: file \(d.sha256) \(d.bytes) B, canonical \(canonical?.sha256 ?? "?") \(canonical?.bytes ?? -1) B"
                    )
                }
                // the database stays, for inspection
                try? FileManager.default.removeItem(atPath: d.directory + "/exports")
            }
            summaries.append(
                "\(size) records: raw \(Bench.summary(raws, digits: 0)) records/s · **mprefd \(Bench.summary(rates, digits: 0)) records/s, \(Bench.summary(mbs)) MB/s · ratio \(Bench.summary(ratios)) %** (target ≥ 80 %) · **RSS peak \(Bench.summary(hwms)) MiB** (target < 100 MB)"
            )
        }
        if !summaries.isEmpty {
            print("\n**Median (range) over \(runs) runs:**\n")
            for line in summaries { print("- " + line) }
            print("")
            fflush(nil)
        }
        guard part != "throughput" else {
            try await http.shutdown()
            return
        }

        print("### kill -9 during a download\n")
        print(
            "\(killRecords) records, \(killRecords / pageSize) pages; `mprefd run` killed with SIGKILL \(kills) times (kill k at a random moment 0–20 ms after the checkpoint reaches k/(kills+1) of the pages), restarted each time, then left to finish. Pace raised as above, so the daemon is always busy with a page when killed. Since the next page is asked for while the current one is made durable, a kill can find two pages in hand; the restart keeps the whole records already in the `.partial` file. *Fetched again* per kill = records the simulator had served (`records_served`) at the kill, less the records the restarted daemon kept (its first page request's offset − 1), less those counted at earlier kills, in pages (rounded up); the total is checked against `pages_served` − pages needed at the end.\n"
        )
        print(
            "| run | pages stored at each kill | fetched again per kill | total fetched again (served − needed) | page requests recorded | sha256 = canonical | final state |"
        )
        print("|---|---|---|---|---|---|---|")
        fflush(nil)
        var maxima: [Double] = [], totals: [Double] = []
        for r in 1...runs {
            let k = try await killRun(
                sim: sim, http: http, root: root, token: Int64(2_000_000 + r), records: killRecords, pageSize: pageSize,
                kills: kills, run: r)
            maxima.append(Double(k.refetched.max() ?? 0)); totals.append(Double(k.totalExtra))
            print(
                "| \(r) | \(k.storedAtKill.map(String.init).joined(separator: ", ")) | \(k.refetched.map(String.init).joined(separator: ", ")) | \(k.totalExtra) | \(k.pageRequests) | \(k.sameSHA ? "yes" : "**NO**") | \(k.state) |"
            )
            fflush(nil)
        }
        try await http.shutdown()
        print(
            "\n**Over \(runs) runs:** at most \(Int(maxima.max() ?? 0)) page(s) fetched again per kill (target ≤ 1); pages fetched again per run of \(kills) kills: \(Bench.summary(totals, digits: 0)).\n"
        )
        fflush(nil)
    }

    static func token(size: Int, run: Int, phase: Int) -> Int64 { Int64(1_000_000 + size * 10_000 + run * 10 + phase) }

    static func scenarioEntry(token: Int64, records: Int) -> String {
        "{\"access_token\": \(token), \"steps\": [{\"status\": \"Complete\", \"row_count\": \(records), \"byte_count\": \(records * 800)}], \"export\": {\"seed\": 1}}"
    }

    // MARK: Raw client

    struct RawPhase {
        var recordsPerSecond: Double
        var bytesPerSecond: Double
        var simCPU: Double
    }

    /// One status GET (the simulator serves pages only after `Complete`), then every page in turn.
    static func rawPhase(http: HTTPClient, sim: SimProcess, token: Int64, records: Int, pageSize: Int) async throws
        -> RawPhase
    {
        var status = HTTPClientRequest(url: "\(sim.baseURL)/Async/\(clientID)/Export/\(token)/Status")
        status.headers.add(name: "Accept", value: "application/json")
        let head = try await http.execute(status, timeout: .seconds(30))
        _ = try await head.body.collect(upTo: 1 << 20)
        let base = "\(sim.baseURL)/Async/\(clientID)/Export/Segment/\(token)"
        let (t0, s0) = (Bench.monotonicSeconds(), Bench.cpuSeconds(pid: sim.pid))
        var offset = 1
        var bytes = 0
        while offset <= records {
            var request = HTTPClientRequest(url: "\(base)?limit=\(pageSize)&offset=\(offset)&keepAlive=true")
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await http.execute(request, timeout: .seconds(300))
            let body = try await response.body.collect(upTo: 256 << 20)
            guard response.status == .ok else {
                throw BenchError("raw page \(offset) of \(token): HTTP \(response.status.code)")
            }
            bytes += body.readableBytes
            offset += pageSize
        }
        let dt = Bench.monotonicSeconds() - t0
        let phase = RawPhase(
            recordsPerSecond: Double(records) / dt, bytesPerSecond: Double(bytes) / dt,
            simCPU: (Bench.cpuSeconds(pid: sim.pid) - s0) / dt)
        Bench.note(
            String(
                format: "raw AHC: %d records in %.2f s (%.0f records/s, %.1f MB/s of bodies)", records, dt,
                phase.recordsPerSecond, phase.bytesPerSecond / 1e6))
        return phase
    }

    // MARK: mprefd

    struct DaemonPhase {
        var recordsPerSecond: Double
        var bytesPerSecond: Double
        var bytes: Int64
        var sha256: String
        var cpu: Double
        var simCPU: Double
        var rssMax: Double
        var hwm: Double
        var directory: String
    }

    /// Writes the configuration, adds the token with `mprefd add-token`, and returns (directory, config path, database path).
    static func prepare(sim: SimProcess, root: String, name: String, token: Int64, pageSize: Int, pace: Int) throws -> (
        String, String, String
    ) {
        let dir = root + "/" + name
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = dir + "/mprefd.yaml"
        let db = dir + "/mprefd.sqlite3"
        try """
        database:
          path: \(db)
        log:
          level: info
        polling:
          initial_delay_s: 0.05
          max_delay_s: 0.2
          max_requests_per_second_per_host: \(pace)
        accounts:
          \(clientID):
            base_url: \(sim.baseURL)
            allow_insecure_http: true
            download:
              enabled: true
              directory: \(dir)/exports
              page_size: \(pageSize)

        """.write(toFile: config, atomically: true, encoding: .utf8)
        _ = try Admin.timed(Bench.binDirectory + "/mprefd", ["add-token", "--config", config, String(token)])
        return (dir, config, db)
    }

    static func startDaemon(config: String, log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Bench.binDirectory + "/mprefd")
        process.arguments = ["run", "--config", config]
        var environment = ProcessInfo.processInfo.environment
        environment["MPREFD_CONFIG"] = nil
        environment["MPREFD_DB"] = nil
        process.environment = environment
        if !FileManager.default.fileExists(atPath: log) {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
        }
        let handle = FileHandle(forWritingAtPath: log)
        handle?.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    static func daemonPhase(sim: SimProcess, root: String, token: Int64, records: Int, pageSize: Int, run: Int)
        async throws -> DaemonPhase
    {
        let (dir, config, dbPath) = try prepare(
            sim: sim, root: root, name: "size\(records)-run\(run)", token: token, pageSize: pageSize, pace: 100_000)
        let database = try TokenDatabase(path: dbPath, mode: .readOnly)
        let s0 = Bench.cpuSeconds(pid: sim.pid)
        let daemon = try startDaemon(config: config, log: dir + "/mprefd.log")
        let pid = String(daemon.processIdentifier)
        var rssMax = 0.0
        var hwm = 0.0
        let deadline = Bench.monotonicSeconds() + 3600
        while true {
            try await Task.sleep(for: .milliseconds(100))
            rssMax = max(rssMax, Bench.statusMiB("VmRSS", pid: pid))
            let state = try database.read { db in
                try String.fetchOne(db, sql: "SELECT state FROM tokens WHERE access_token = ?", arguments: [token])
            }
            if state == "complete" || state == "download_failed" || state == "expired" || state == "failed" {
                if state != "complete" {
                    throw BenchError("download of \(token) ended \(state ?? "?"); see \(dir)/mprefd.log")
                }
                break
            }
            guard daemon.isRunning else {
                throw BenchError("mprefd exited \(daemon.terminationStatus); see \(dir)/mprefd.log")
            }
            guard Bench.monotonicSeconds() < deadline else {
                throw BenchError("download of \(token) did not finish in an hour")
            }
        }
        hwm = Bench.statusMiB("VmHWM", pid: pid)
        let cpu = Bench.cpuSeconds(pid: daemon.processIdentifier)
        let simCPU = Bench.cpuSeconds(pid: sim.pid) - s0
        daemon.terminate()
        daemon.waitUntilExit()
        let row = try database.read {
            db -> (first: String?, committed: String?, records: Int64, bytes: Int64, sha256: String?, pages: Int64)? in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT (SELECT min(requested_at) FROM download_requests WHERE request = 'page') AS first, d.committed_at, d.records, d.bytes, d.sha256,
                               (SELECT count(*) FROM download_requests WHERE request = 'page') AS pages
                        FROM downloads d JOIN tokens t ON t.id = d.token_id WHERE t.access_token = ?
                        """, arguments: [token])
            else { return nil }
            return (row["first"], row["committed_at"], row["records"], row["bytes"], row["sha256"], row["pages"])
        }
        guard let row, let first = row.first.flatMap(Timestamp.parse),
            let committed = row.committed.flatMap(Timestamp.parse)
        else {
            throw BenchError("no download row for \(token)")
        }
        let dt = committed.timeIntervalSince(first)
        let bytes = row.bytes
        let stored = row.records
        let pages = row.pages
        Bench.note(
            String(
                format: "mprefd: %lld records, %lld bytes, %lld page requests in %.2f s; CPU %.1f s; VmHWM %.1f MiB",
                stored, bytes, pages, dt, cpu, hwm))
        return DaemonPhase(
            recordsPerSecond: Double(stored) / dt, bytesPerSecond: Double(bytes) / dt, bytes: bytes,
            sha256: row.sha256 ?? "",
            cpu: cpu / dt, simCPU: simCPU / dt, rssMax: rssMax, hwm: hwm, directory: dir)
    }

    // MARK: kill -9

    struct KillRun {
        var storedAtKill: [Int]
        var refetched: [Int]
        var totalExtra: Int
        var pageRequests: Int
        var sameSHA: Bool
        var state: String
    }

    static func killRun(
        sim: SimProcess, http: HTTPClient, root: String, token: Int64, records: Int, pageSize: Int, kills: Int, run: Int
    ) async throws -> KillRun {
        let (dir, config, dbPath) = try prepare(
            sim: sim, root: root, name: "kill-run\(run)", token: token, pageSize: pageSize, pace: 100_000)
        let database = try TokenDatabase(path: dbPath, mode: .readOnly)
        let pagesNeeded = (records + pageSize - 1) / pageSize
        let log = dir + "/mprefd.log"
        func storedPages() throws -> Int {
            try database.read { db in try Int.fetchOne(db, sql: "SELECT coalesce(max(pages), 0) FROM downloads") ?? 0 }
        }
        var storedAtKill: [Int] = [], servedAtKill: [Int64] = [], restartedAt: [String] = []
        var last = 0
        let stamp = ISO8601DateFormatter()
        stamp.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for k in 1...kills {
            if k > 1 { restartedAt.append(stamp.string(from: Date())) }
            let daemon = try startDaemon(config: config, log: log)
            // Wait until this daemon has stored at least one page more than at the previous kill, and the
            // checkpoint has reached k/(kills+1) of the export (kills spread over the download).
            let target = max(last + 1, k * pagesNeeded / (kills + 1))
            let deadline = Bench.monotonicSeconds() + 60
            while try storedPages() < target {
                guard Bench.monotonicSeconds() < deadline, daemon.isRunning else {
                    throw BenchError("kill run: no progress; see \(log)")
                }
                try await Task.sleep(for: .milliseconds(1))
            }
            try await Task.sleep(for: .microseconds(Int.random(in: 0...20_000)))
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
            let stored = try storedPages()
            let served = try await sim.export(http: http, token: token)
            storedAtKill.append(stored)
            servedAtKill.append(served?.recordsServed ?? 0)
            last = stored
            Bench.note("kill \(k): \(stored) pages stored, \(served?.pagesServed ?? -1) pages served")
            guard stored < pagesNeeded else {
                Bench.note("kill \(k) came after the last page; fewer kills mid-download"); break
            }
        }
        restartedAt.append(stamp.string(from: Date()))
        let daemon = try startDaemon(config: config, log: log)
        let deadline = Bench.monotonicSeconds() + 300
        var state = ""
        while Bench.monotonicSeconds() < deadline {
            state =
                try database.read { db in
                    try String.fetchOne(db, sql: "SELECT state FROM tokens WHERE access_token = ?", arguments: [token])
                } ?? ""
            if state != "downloading", state != "watching" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        daemon.terminate()
        daemon.waitUntilExit()
        let canonical = try await sim.export(http: http, token: token)
        let (sha, requests) = try database.read { db in
            (
                try String.fetchOne(db, sql: "SELECT sha256 FROM downloads") ?? "",
                try Int.fetchOne(db, sql: "SELECT count(*) FROM download_requests WHERE request = 'page'") ?? 0
            )
        }
        let extra = (canonical?.pagesServed ?? -1) - pagesNeeded
        // Per kill: the records served before it that the restarted daemon asked for again — served at the
        // kill, less where the restart went on (its first page request's offset − 1: the records it kept),
        // less those already counted at earlier kills; in pages, rounded up.
        var refetched: [Int] = []
        var counted: Int64 = 0
        for (k, restart) in restartedAt.enumerated() where k < servedAtKill.count {
            let resumedAt = try database.read { db in
                try Int64.fetchOne(
                    db,
                    sql:
                        "SELECT page_offset FROM download_requests WHERE request = 'page' AND requested_at >= ? ORDER BY id LIMIT 1",
                    arguments: [restart])
            }
            let kept = (resumedAt ?? 1) - 1
            let again = max(0, servedAtKill[k] - kept - counted)
            refetched.append(Int((again + Int64(pageSize) - 1) / Int64(pageSize)))
            counted += again
        }
        try? FileManager.default.removeItem(atPath: dir + "/exports")
        return KillRun(
            storedAtKill: storedAtKill, refetched: refetched, totalExtra: extra, pageRequests: requests,
            sameSHA: canonical?.sha256 == sha, state: state)
    }
}

/// `mpref-sim` (the release binary beside this one) as a child process.
final class SimProcess {
    let process: Process
    let port: Int
    var pid: Int32 { process.processIdentifier }
    var baseURL: String { "http://127.0.0.1:\(port)/Profiles" }

    /// - Parameter log: a file for the simulator's stdout and stderr (default: this process's own).
    init(binary: String, scenarios: String, directory: String, log: String? = nil) throws {
        let portFile = directory + "/sim.port"
        try? FileManager.default.removeItem(atPath: portFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--scenarios", scenarios, "--port-file", portFile, "--no-record", "--log-level", "error"]
        if let log, FileManager.default.createFile(atPath: log, contents: nil),
            let handle = FileHandle(forWritingAtPath: log)
        {
            process.standardOutput = handle
            process.standardError = handle
        }
        try process.run()
        guard let port = Bench.waitForPort(in: portFile, attempts: 1000) else {
            process.terminate()
            throw BenchError("mpref-sim did not start")
        }
        self.process = process
        self.port = port
    }

    struct Export: Decodable {
        var records: Int64
        var bytes: Int64
        var sha256: String
        var pagesServed: Int
        var recordsServed: Int64
        enum CodingKeys: String, CodingKey {
            case records, bytes, sha256
            case pagesServed = "pages_served"
            case recordsServed = "records_served"
        }
    }

    /// `GET /_sim/exports/BENCH/TOKEN`: the canonical file's size and SHA-256, and the pages served.
    func export(http: HTTPClient, token: Int64) async throws -> Export? {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/_sim/exports/\(Download.clientID)/\(token)")
        let response = try await http.execute(request, timeout: .seconds(600))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { return nil }
        return try JSONDecoder().decode(Export.self, from: Data(body.readableBytesView))
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

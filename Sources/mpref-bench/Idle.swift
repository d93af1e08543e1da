import Foundation
import Logging
import MprefStore
import MprefWorker
import MyPreferences

/// Benchmark 3: 10,000 tokens all due in more than 5 minutes; the daemon's CPU over 60 s and the
/// SQL it runs meanwhile, with the full-table-scan steps of each statement (`ScanProbe`).
enum Idle {
    static func run(_ options: Options) async throws {
        if let resultFile = options.resultFile { return try await runOne(options, resultFile: resultFile) }
        let tokens = options.tokens ?? 10_000
        let seconds = options.seconds ?? 60
        print("## 3. Idle cost: \(tokens) tokens, all due in 10 minutes\n")
        print(
            "Real `Daemon` (scheduler, hook queue, heartbeat, admin-change check) in a fresh process per run; CPU = user + system of that process over \(Int(seconds)) s after a 5 s settle. Full-scan steps from `sqlite3_stmt_status(SQLITE_STMTSTATUS_FULLSCAN_STEP)` of every statement executed in the window, on the daemon's own connections.\n"
        )
        print("| run | CPU over the window | % of one core | statements executed | full-scan steps | VM steps |")
        print("|---|---|---|---|---|---|")
        fflush(nil)
        var percents: [Double] = [], scans: [Double] = []
        var statements = ""
        for run in 1...options.runs {
            let r = try Child.run([
                "idle", "--tokens", String(tokens), "--seconds", String(seconds), "--run", String(run),
            ])
            percents.append(r["percent"] ?? .nan); scans.append(r["scans"] ?? .nan)
            print(
                String(
                    format: "| %d | %.3f s | %.2f %% | %.0f | %.0f | %.0f |", run, r["cpu"] ?? .nan,
                    r["percent"] ?? .nan, r["executions"] ?? .nan, r["scans"] ?? .nan, r["vm"] ?? .nan))
            fflush(nil)
            if run == 1 {
                statements = (try? String(contentsOfFile: Child.lastResultFile + ".statements", encoding: .utf8)) ?? ""
            }
        }
        print(
            "\n**Median (range):** \(Bench.summary(percents, digits: 2)) % of one core (target < 1 %) · full-scan steps \(Bench.summary(scans, digits: 0)) (target: none).\n"
        )
        print("Statements run while idle (run 1), per \(Int(seconds)) s:\n")
        print("| executions | full-scan steps | VM steps | SQL |")
        print("|---|---|---|---|")
        print(statements)
        fflush(nil)
    }

    static func runOne(_ options: Options, resultFile: String) async throws {
        let tokens = options.tokens ?? 10_000
        let seconds = options.seconds ?? 60
        let run = options.run ?? 1
        let server = try ServerProcess()
        defer { server.stop() }
        let dir = try Bench.freshDirectory("idle-\(run)")
        let path = dir + "/mprefd.sqlite3"
        try Seeder.seedInChild(db: path, tokens: tokens, firstDue: Date().timeIntervalSince1970 + 600, rate: 0)
        ScanProbe.install()
        let database = try TokenDatabase(path: path, mode: .readWrite)
        let configuration = WorkerConfiguration(
            accounts: [try DaemonHarness.clientID(): try DaemonHarness.account(baseURL: server.baseURL)],
            databasePath: path)
        let logger = benchLogger("mprefd")
        let (cpu, stats) = try await DaemonHarness.withDaemon(
            configuration: configuration, database: database, logger: logger
        ) {
            try await Task.sleep(for: .seconds(5))
            ScanProbe.start()
            let c0 = Bench.processCPUSeconds(), t0 = Bench.monotonicSeconds()
            try await Task.sleep(for: .seconds(seconds))
            let cpu = (Bench.processCPUSeconds() - c0) * seconds / (Bench.monotonicSeconds() - t0)
            return (cpu, ScanProbe.stop())
        }
        let polls = try await Bench.pollRowCount(database)
        if polls != 0 { Bench.note("WARNING: \(polls) polls happened while idle") }
        let executions = stats.values.reduce(0) { $0 + $1.executions }
        let scans = stats.values.reduce(Int64(0)) { $0 + $1.fullScanSteps }
        let vm = stats.values.reduce(Int64(0)) { $0 + $1.vmSteps }
        let lines = stats.sorted { $0.value.executions > $1.value.executions }.map { sql, s in
            "| \(s.executions) | \(s.fullScanSteps) | \(s.vmSteps) | `\(sql.prefix(160).replacingOccurrences(of: "|", with: "\\|"))\(sql.count > 160 ? "…" : "")` |"
        }
        try lines.joined(separator: "\n").write(toFile: resultFile + ".statements", atomically: true, encoding: .utf8)
        try Child.write(
            [
                "cpu": cpu, "percent": cpu / seconds * 100, "executions": Double(executions), "scans": Double(scans),
                "vm": Double(vm),
            ], to: resultFile)
    }
}

/// Runs one measurement in a fresh child process (`mpref-bench SCENARIO … --result-file F`) and
/// reads back its numbers, so that each run's RSS and CPU are its own.
enum Child {
    nonisolated(unsafe) static var lastResultFile = ""

    static func run(_ arguments: [String]) throws -> [String: Double] {
        let dir = try Bench.freshDirectory("results-\(getpid())")
        let file = dir + "/" + UUID().uuidString + ".json"
        lastResultFile = file
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Bench.executablePath)
        process.arguments = arguments + ["--result-file", file]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let data = FileManager.default.contents(atPath: file),
            let numbers = try JSONSerialization.jsonObject(with: data) as? [String: Double]
        else {
            throw BenchError("\(arguments.first ?? "") run failed (exit \(process.terminationStatus))")
        }
        return numbers
    }

    static func write(_ numbers: [String: Double], to file: String) throws {
        let cleaned = numbers.mapValues { $0.isFinite ? $0 : -1 }
        try JSONSerialization.data(withJSONObject: cleaned).write(to: URL(fileURLWithPath: file))
    }
}

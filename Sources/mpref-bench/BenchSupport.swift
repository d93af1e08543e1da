import Foundation
import MprefCore
import GRDB
import Logging
import MprefStore
import Synchronization

/// Small measuring tools shared by the scenarios: clocks, percentiles, /proc readings, seeding.
enum Bench {
    /// The port a child server wrote to `portFile`, polled every 10 ms up to `attempts` times; nil if it never did.
    static func waitForPort(in portFile: String, attempts: Int) -> Int? {
        for _ in 0..<attempts {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
                let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return port
            }
            usleep(10_000)
        }
        return nil
    }

    /// Seconds on the monotonic clock since an arbitrary origin.
    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// CPU seconds (user + system) used by this process so far.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
    }

    /// CPU seconds (user + system) used by process `pid` so far, from /proc/PID/stat; 0 when unreadable.
    static func cpuSeconds(pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the ")": state is field 3 → index 0; utime is field 14 → index 11, stime index 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (user + system) / ticks
    }

    /// A `kB` field of /proc/self/status (`VmRSS`, `VmHWM`), in MiB.
    static func statusMiB(_ field: String, pid: String = "self") -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let number = line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ")
                .first
            return (number.flatMap { Double($0) } ?? 0) / 1024
        }
        return 0
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((p / 100 * Double(sorted.count - 1)).rounded())
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    static func median(_ values: [Double]) -> Double {
        percentile(values.sorted(), 50)
    }

    /// "median (min–max)" with `digits` decimals.
    static func summary(_ values: [Double], digits: Int = 1) -> String {
        guard let lo = values.min(), let hi = values.max() else { return "n/a" }
        let f = { (v: Double) in String(format: "%.\(digits)f", v) }
        return values.count == 1 ? f(values[0]) : "\(f(median(values))) (\(f(lo))–\(f(hi)))"
    }

    /// Progress lines go to stderr so that stdout stays Markdown.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data(("mpref-bench: " + text + "\n").utf8))
    }

    /// A fresh directory for one scenario's database under `root` (default `$MPREF_BENCH_DIR` or /tmp/mpref-bench).
    static func freshDirectory(_ name: String) throws -> String {
        let root = ProcessInfo.processInfo.environment["MPREF_BENCH_DIR"] ?? "/tmp/mpref-bench"
        let dir = root + "/" + name
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Inserts `count` watching tokens of `clientID` with access tokens `firstToken…`, token i due at
    /// `nextPollAt(i)`, in 5,000-row transactions (seeding, not measured). Optional per-token hook.
    static func seed(
        _ database: TokenDatabase, clientID: String, count: Int, firstToken: Int64 = 1,
        nextPollAt: (Int) -> Date, hook: ((Int64) -> String)? = nil
    ) throws {
        let now = Timestamp.format(Date())
        var i = 0
        while i < count {
            let end = min(i + 5000, count)
            let range = i..<end
            let dueTexts = range.map { Timestamp.format(nextPollAt($0)) }
            let hookTexts = hook.map { h in range.map { h(firstToken + Int64($0)) } }
            try database.write { db in
                let insert = try db.cachedStatement(
                    sql: """
                        INSERT INTO tokens (client_id, access_token, state, added_at, next_poll_at, global_hooks, admin_seq)
                        VALUES (?, ?, 'watching', ?, ?, 1, 0)
                        """)
                let insertHook = try db.cachedStatement(
                    sql: "INSERT INTO token_hooks (token_id, on_event, command) VALUES (?, 'complete', ?)")
                for (offset, j) in range.enumerated() {
                    let token = firstToken + Int64(j)
                    try insert.execute(arguments: [clientID, token, now, dueTexts[offset]])
                    if let hookTexts {
                        try insertHook.execute(arguments: [db.lastInsertedRowID, hookTexts[offset]])
                    }
                }
            }
            i = end
        }
    }

    /// Rows in `polls` (the highest id; the table is append-only).
    static func pollRowCount(_ database: TokenDatabase) async throws -> Int64 {
        try database.read { db in try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) FROM polls") ?? 0
        }
    }

    /// The directory of this executable (where `swift build` also put `mprefd`).
    static var binDirectory: String {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }

    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

/// Counters shared by the load tasks of a phase.
final class PhaseCounters: Sendable {
    let done = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
}

/// The fixed-answer server, run as a child process (`mpref-bench serve`) so that its CPU is its own
/// and can be read from /proc.
final class ServerProcess {
    let process: Process
    let port: Int

    var pid: Int32 { process.processIdentifier }

    init(threads: Int = 1, completeFrom: Int64? = nil) throws {
        let dir = try Bench.freshDirectory("server-\(getpid())")
        let portFile = dir + "/port"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Bench.executablePath)
        var arguments = ["serve", "--port-file", portFile, "--threads", String(threads)]
        if let completeFrom { arguments += ["--complete-from", String(completeFrom)] }
        process.arguments = arguments
        try process.run()
        guard let port = Bench.waitForPort(in: portFile, attempts: 500) else {
            process.terminate()
            throw BenchError("fixed-answer server did not start")
        }
        self.process = process
        self.port = port
    }

    var baseURL: String { "http://127.0.0.1:\(port)/Profiles" }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A log handler that keeps (message, monotonic time, metadata) of chosen messages and drops the rest.
struct CapturingLogHandler: LogHandler {
    final class Sink: Sendable {
        struct Entry: Sendable {
            var message: String
            var at: Double
            var metadata: [String: String]
        }
        let wanted: Set<String>
        private let entries = Mutex<[Entry]>([])
        init(wanted: Set<String>) { self.wanted = wanted }
        func add(_ entry: Entry) { entries.withLock { $0.append(entry) } }
        var all: [Entry] { entries.withLock { $0 } }
    }

    let sink: Sink
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let text = "\(event.message)"
        guard sink.wanted.contains(text) else { return }
        let at = Bench.monotonicSeconds()
        var flat: [String: String] = [:]
        for (k, v) in event.metadata ?? [:] { flat[k] = "\(v)" }
        sink.add(.init(message: text, at: at, metadata: flat))
    }
}

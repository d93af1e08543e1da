import Foundation
import Logging
import NIOCore

/// `mpref-bench SCENARIO [options]`: mprefd's benchmarks (see docs/BENCHMARKS.md). Results are
/// Markdown on stdout; progress on stderr. Every scenario repeats `--runs` times (default 3) and
/// reports each run, the median and the range, measuring ratios within one run where it can.
///
/// Scenarios: `throughput`, `scale`, `idle`, `admin`, `hooks`, `download`, `time-to-data`, `all` (each in
/// its own process), and `detection` (pure CPU on a virtual clock, not part of `all`);
/// helpers: `serve` (the fixed-answer server), `seed` (fills a database).
@main
struct BenchCommand {
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard !arguments.isEmpty else {
            Bench.note("usage: mpref-bench throughput|record|scale|idle|admin|hooks|download|time-to-data|detection|all [--runs N] [--seconds S] [--tokens N]")
            exit(64)
        }
        let scenario = arguments.removeFirst()
        let options = Options(arguments)
        do {
            switch scenario {
            case "serve": try await serve(options)
            case "seed": try Seeder.run(options)
            case "throughput": try await Throughput.run(options)
            case "scale": try await Scale.run(options)
            case "idle": try await Idle.run(options)
            case "admin": try await Admin.run(options)
            case "hooks": try await HookLatency.run(options)
            case "record": try await RecordCost.run(options)
            case "download": try await Download.run(options)
            case "detection": try Detection.run(options)
            case "time-to-data": try await TimeToData.run(options)
            case "all": try all(options)
            default:
                Bench.note("unknown scenario \(scenario)")
                exit(64)
            }
        } catch {
            Bench.note("error: \(error)")
            exit(70)
        }
        fflush(nil)
        exit(0)
    }

    static func serve(_ options: Options) async throws {
        let (channel, _) = try await FixedAnswerServer.start(
            threads: options.int("threads") ?? 1, completeFrom: options.int("complete-from").map(Int64.init))
        let port = channel.localAddress?.port ?? 0
        if let file = options.string("port-file") {
            try "\(port)\n".write(toFile: file + ".tmp", atomically: false, encoding: .utf8)
            _ = rename(file + ".tmp", file)
        } else {
            print(port)
            fflush(nil)
        }
        try await channel.closeFuture.get()
    }

    /// Runs every scenario, each in a fresh process (so RSS and CPU are the scenario's own).
    static func all(_ options: Options) throws {
        var passthrough: [String] = []
        if let runs = options.string("runs") { passthrough += ["--runs", runs] }
        print("# mpref-bench results\n")
        print("Started \(Date()) · `nproc` = \(ProcessInfo.processInfo.activeProcessorCount) · load average at start: \(loadAverage())\n")
        fflush(nil)
        for scenario in ["throughput", "record", "scale", "idle", "admin", "hooks", "download", "time-to-data"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Bench.executablePath)
            process.arguments = [scenario] + passthrough
            try process.run()
            process.waitUntilExit()
            if process.terminationStatus != 0 {
                print("\n**\(scenario) failed (exit \(process.terminationStatus))**\n")
            }
            fflush(nil)
        }
        print("Finished \(Date()) · load average at end: \(loadAverage())")
    }

    static func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }
}

/// `--name value` options.
struct Options {
    private var values: [String: String] = [:]

    init(_ arguments: [String]) {
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a.hasPrefix("--") {
                let name = String(a.dropFirst(2))
                if i + 1 < arguments.count, !arguments[i + 1].hasPrefix("--") {
                    values[name] = arguments[i + 1]
                    i += 2
                    continue
                }
                values[name] = "true"
            }
            i += 1
        }
    }

    func string(_ name: String) -> String? { values[name] }
    func int(_ name: String) -> Int? { values[name].flatMap { Int($0) } }
    func double(_ name: String) -> Double? { values[name].flatMap { Double($0) } }
    var runs: Int { int("runs") ?? 3 }
}

/// A logger that writes info and above to stderr, like the daemon's default level.
func benchLogger(_ label: String, level: Logger.Level = .info) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = level
    return logger
}

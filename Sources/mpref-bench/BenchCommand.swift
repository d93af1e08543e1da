import ArgumentParser
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
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mpref-bench",
        abstract: "mprefd's benchmarks (docs/BENCHMARKS.md): Markdown results on stdout, progress on stderr.",
        discussion: "A bad or unknown option is exit 64; a scenario that fails, exit 70.")

    /// A scenario, or a helper the scenarios start as a child process (`serve`, `seed`).
    enum Scenario: String, ExpressibleByArgument, CaseIterable {
        case throughput, record, scale, idle, admin, hooks, download, detection, all, serve, seed, decode
        case timeToData = "time-to-data"
    }

    @Argument(help: "The scenario.")
    var scenario: Scenario

    @OptionGroup var options: Options

    func run() async throws {
        do {
            switch scenario {
            case .serve: try await Self.serve(options)
            case .seed: try Seeder.run(options)
            case .throughput: try await Throughput.run(options)
            case .scale: try await Scale.run(options)
            case .idle: try await Idle.run(options)
            case .admin: try await Admin.run(options)
            case .hooks: try await HookLatency.run(options)
            case .record: try await RecordCost.run(options)
            case .decode: try await DecodeCost.run(options)
            case .download: try await Download.run(options)
            case .detection: try Detection.run(options)
            case .timeToData: try await TimeToData.run(options)
            case .all: try Self.all(options)
            }
        } catch {
            Bench.note("error: \(error)")
            throw ExitCode(70)
        }
        fflush(nil)
    }

    static func serve(_ options: Options) async throws {
        let (channel, _) = try await FixedAnswerServer.start(
            threads: options.threads ?? 1, completeFrom: options.completeFrom.map(Int64.init))
        let port = channel.localAddress?.port ?? 0
        if let file = options.portFile {
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
        let passthrough = ["--runs", String(options.runs)]
        print("# mpref-bench results\n")
        print(
            "Started \(Date()) · `nproc` = \(ProcessInfo.processInfo.activeProcessorCount) · load average at start: \(loadAverage())\n"
        )
        fflush(nil)
        for scenario in [
            "throughput", "record", "scale", "idle", "admin", "hooks", "decode", "download", "time-to-data",
        ] {
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
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(
            separator: " ")
    }
}

/// The options of every scenario (each reads its own; `nil` = the scenario's default), parsed by
/// ArgumentParser: a value of the wrong type or an unknown option is exit 64, never silently ignored.
struct Options: ParsableArguments {
    /// Every scenario: how many times it repeats.
    @Option var runs: Int = 3
    @Option var add: Int?
    @Option var background: Int?
    @Option var batch: Int?
    @Option(name: .customLong("complete-from")) var completeFrom: Int?
    @Option var concurrency: Int?
    @Option var exports: Int?
    @Option(name: .customLong("first-token")) var firstToken: Int?
    @Option var history: Int?
    @Option(name: .customLong("kill-records")) var killRecords: Int?
    @Option var kills: Int?
    @Option var list: Int?
    @Option(name: .customLong("page-size")) var pageSize: Int?
    @Option var polls: Int?
    @Option var run: Int?
    @Option var seed: Int?
    @Option(name: .customLong("server-threads")) var serverThreads: Int?
    @Option var terminal: Int?
    @Option var threads: Int?
    @Option var tokens: Int?
    @Option var demand: Double?
    @Option(name: .customLong("first-due")) var firstDue: Double?
    @Option(name: .customLong("learned-max-delay")) var learnedMaxDelay: Double?
    @Option var rate: Double?
    @Option var seconds: Double?
    @Option var spacing: Double?
    @Option(name: .customLong("client-id")) var clientId: String?
    @Option var db: String?
    @Option var only: String?
    @Option var part: String?
    @Option(name: .customLong("port-file")) var portFile: String?
    @Option(name: .customLong("result-file")) var resultFile: String?
    @Option var sizes: String?
    @Flag var hooks = false
    @Flag var json = false
    @Flag var probe = false
}

/// A logger that writes info and above to stderr, like the daemon's default level.
func benchLogger(_ label: String, level: Logger.Level = .info) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = level
    return logger
}

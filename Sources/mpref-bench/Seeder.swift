import Foundation
import MprefStore

/// `mpref-bench seed --db PATH --tokens N [--client-id ID] [--first-due EPOCH_S] [--rate PER_S] [--first-token N] [--hooks]`:
/// creates the database and inserts N watching tokens, token i (0-based) due at first-due + i/rate
/// (all at first-due when rate is 0). Run as its own process so that the daemon's RSS is not
/// inflated by the seeding's allocations.
enum Seeder {
    static func run(_ options: Options) throws {
        guard let path = options.db, let count = options.tokens else {
            throw BenchError("seed needs --db and --tokens")
        }
        let clientID = options.clientId ?? "BENCH"
        let firstDue = options.firstDue ?? Date().timeIntervalSince1970
        let rate = options.rate ?? 0
        let firstToken = Int64(options.firstToken ?? 1)
        let database = try TokenDatabase(path: path, mode: .readWrite)
        try Bench.seed(
            database, clientID: clientID, count: count, firstToken: firstToken,
            nextPollAt: { i in
                Date(timeIntervalSince1970: firstDue + (rate > 0 ? Double(i) / rate : 0))
            }, hook: options.hooks ? { token in ": hook-for \(token)" } : nil)
    }

    /// Runs `mpref-bench seed …` in a child process and waits for it.
    static func seedInChild(
        db: String, tokens: Int, firstDue: Double, rate: Double, firstToken: Int64 = 1, hooks: Bool = false
    ) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Bench.executablePath)
        var arguments = [
            "seed", "--db", db, "--tokens", String(tokens), "--first-due", String(firstDue), "--rate", String(rate),
            "--first-token", String(firstToken),
        ]
        if hooks { arguments.append("--hooks") }
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("seeding failed (exit \(process.terminationStatus))")
        }
    }
}

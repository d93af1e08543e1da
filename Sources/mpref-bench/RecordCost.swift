import Foundation
import MprefStore
import MprefCore

/// `mpref-bench record [--tokens 2000] [--batch 24] [--polls 200000] [--runs 3]`: what committing a
/// poll costs the store alone — `DaemonStore.recordPolls` (history row + token update, one
/// transaction per batch) on a real database file, no HTTP, no scheduler. Reports µs of wall time
/// and of process CPU per poll. Batches of 24 are what the throughput scenario's recorder commits
/// on average at ~10,000 polls/s (measured: 130k polls in 5.4k transactions).
enum RecordCost {
    static func run(_ options: Options) async throws {
        let tokens = options.tokens ?? 2000
        let batch = options.batch ?? 24
        let polls = options.polls ?? 200_000
        print("## Store: cost of committing polls (no HTTP)\n")
        print(
            "`DaemonStore.recordPolls`, \(tokens) tokens, batches of \(batch), \(polls) polls per run, WAL, `synchronous=NORMAL`, real file.\n"
        )
        print("| run | polls/s | wall µs per poll | CPU µs per poll |")
        print("|---|---|---|---|")
        fflush(nil)
        var rates: [Double] = [], cpus: [Double] = []
        for run in 1...options.runs {
            let dir = try Bench.freshDirectory("record-\(run)")
            let database = try TokenDatabase(path: dir + "/mprefd.sqlite3", mode: .readWrite)
            try Bench.seed(
                database, clientID: "BENCH", count: tokens, firstToken: 1, nextPollAt: { _ in Date() }, hook: nil)
            let ids = try AdminStore(database).listTokens().map(\.id)
            let (t0, c0) = (Bench.monotonicSeconds(), Bench.processCPUSeconds())
            var done = 0, attempt = 0
            while done < polls {
                attempt += 1
                let now = Date()
                let writes = (0..<batch).map { i in
                    PollWrite(
                        tokenID: ids[(done + i) % ids.count], polledAt: now, httpStatus: 200, status: "Processing",
                        rowCount: nil,
                        byteCount: nil, latencyMs: 3, retryAfterS: nil, nextDelayS: 0.001, outcome: .ok, error: nil,
                        newState: .watching, nextPollAt: now.addingTimeInterval(0.001), attempt: attempt,
                        consecutiveErrors: 0,
                        consecutiveNotFound: 0, lastError: nil)
                }
                _ = try await DaemonStore(database).recordPolls(writes, hooks: { _, _ in nil })
                done += batch
            }
            let (t1, c1) = (Bench.monotonicSeconds(), Bench.processCPUSeconds())
            let rate = Double(done) / (t1 - t0), cpu = (c1 - c0) / Double(done) * 1e6
            rates.append(rate); cpus.append(cpu)
            print(String(format: "| %d | %.0f | %.1f | %.1f |", run, rate, 1e6 / rate, cpu))
            fflush(nil)
        }
        print(
            "\n**Median (range):** \(Bench.summary(rates, digits: 0)) polls/s · \(Bench.summary(cpus)) CPU µs per poll.\n"
        )
    }
}

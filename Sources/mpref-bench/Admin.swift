import Foundation

/// Benchmark 4: the real `mprefd` binary (built beside this one): `add-token --stdin` with 10,000
/// tokens into a fresh database, and `list --json` over 100,000 tokens. Wall time from spawn to
/// exit, process start-up included.
enum Admin {
    static func run(_ options: Options) async throws {
        let addCount = options.add ?? 10_000
        let listCount = options.list ?? 100_000
        let mprefd = Bench.binDirectory + "/mprefd"
        guard FileManager.default.isExecutableFile(atPath: mprefd) else {
            throw BenchError("\(mprefd) not found: build it with `swift build -c release --product mprefd`")
        }
        print("## 4. Admin commands (real `mprefd` binary, wall time spawn → exit)\n")
        print(
            "| run | `add-token --stdin` \(addCount) tokens (fresh db) | `add-token --stdin` \(addCount) more (db holding them) | `list --json` over \(listCount) tokens | list output |"
        )
        print("|---|---|---|---|---|")
        fflush(nil)
        var adds: [Double] = [], lists: [Double] = []
        for run in 1...options.runs {
            let dir = try Bench.freshDirectory("admin-\(run)")
            let db = dir + "/mprefd.sqlite3"
            let input = dir + "/tokens.txt"
            try (1...addCount).map(String.init).joined(separator: "\n").appending("\n").write(
                toFile: input, atomically: true, encoding: .utf8)
            _ = try timed(mprefd, ["migrate", "--db", db])
            let add = try timed(mprefd, ["add-token", "--db", db, "--client-id", "BENCH", "--stdin"], stdin: input)
            let more = dir + "/more.txt"
            try (addCount + 1...2 * addCount).map(String.init).joined(separator: "\n").appending("\n").write(
                toFile: more, atomically: true, encoding: .utf8)
            let add2 = try timed(mprefd, ["add-token", "--db", db, "--client-id", "BENCH", "--stdin"], stdin: more)
            let listDB = dir + "/list.sqlite3"
            try Seeder.seedInChild(db: listDB, tokens: listCount, firstDue: Date().timeIntervalSince1970, rate: 1000)
            let output = dir + "/list.json"
            let list = try timed(mprefd, ["list", "--json", "--db", listDB], stdout: output)
            let size =
                ((try? FileManager.default.attributesOfItem(atPath: output))?[.size] as? NSNumber)?.doubleValue ?? 0
            adds.append(add * 1000); lists.append(list * 1000)
            print(
                String(
                    format: "| %d | %.0f ms | %.0f ms | %.0f ms | %.1f MB |", run, add * 1000, add2 * 1000, list * 1000,
                    size / 1e6))
            fflush(nil)
        }
        print(
            "\n**Median (range):** add-token --stdin \(addCount): \(Bench.summary(adds, digits: 0)) ms (target < 2,000) · list --json \(listCount): \(Bench.summary(lists, digits: 0)) ms (target < 2,000).\n"
        )
        fflush(nil)
    }

    /// Runs the command and returns its wall time in seconds; throws on a non-zero exit.
    static func timed(_ executable: String, _ arguments: [String], stdin: String? = nil, stdout: String? = nil) throws
        -> Double
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["MPREFD_CONFIG"] = nil
        environment["MPREFD_DB"] = nil
        process.environment = environment
        if let stdin { process.standardInput = FileHandle(forReadingAtPath: stdin) }
        if let stdout {
            _ = FileManager.default.createFile(atPath: stdout, contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: stdout)
        } else {
            process.standardOutput = FileHandle.nullDevice
        }
        let t0 = Bench.monotonicSeconds()
        try process.run()
        process.waitUntilExit()
        let elapsed = Bench.monotonicSeconds() - t0
        guard process.terminationStatus == 0 else {
            throw BenchError("\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
        return elapsed
    }
}

import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the real `mpref-sim` binary that `swift build` / `swift test` leave in `.build/debug`.
@Suite("mpref-sim executable", .timeLimit(.minutes(2)))
struct ExecutableTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let binary = packageRoot.appendingPathComponent(".build/debug/mpref-sim")

    /// A started child process with its pipes and an awaitable exit.
    final class Child: Sendable {
        let process: Process
        let stdout: FileHandle
        let stderr: FileHandle
        let exit: AsyncStream<(Process.TerminationReason, Int32)>

        init(arguments: [String]) throws {
            let binaryPath = ExecutableTests.binary.path
            try #require(
                FileManager.default.isExecutableFile(atPath: binaryPath), "build mpref-sim first: \(binaryPath)")
            let process = Process()
            process.executableURL = ExecutableTests.binary
            process.arguments = arguments
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            let (exit, continuation) = AsyncStream.makeStream(of: (Process.TerminationReason, Int32).self)
            process.terminationHandler = { finished in
                continuation.yield((finished.terminationReason, finished.terminationStatus))
                continuation.finish()
            }
            try process.run()
            self.process = process
            self.stdout = out.fileHandleForReading
            self.stderr = err.fileHandleForReading
            self.exit = exit
        }

        /// Waits for the process to exit.
        func exited() async -> (Process.TerminationReason, Int32)? {
            for await status in exit { return status }
            return nil
        }

        /// Reads until the first newline (or end of file) on a background thread; blocking reads end when the child writes or exits.
        func firstLine() async -> String {
            let handle = stdout
            return await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    var data = Data()
                    while !data.contains(UInt8(ascii: "\n")) {
                        let chunk = handle.availableData
                        if chunk.isEmpty { break }
                        data.append(chunk)
                    }
                    let text = String(decoding: data, as: UTF8.self)
                    continuation.resume(returning: text.split(separator: "\n").first.map(String.init) ?? "")
                }
            }
        }

        /// Everything on stderr until the child closes it.
        func allStderr() async -> String {
            let handle = stderr
            return await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(returning: String(decoding: handle.readDataToEndOfFile(), as: UTF8.self))
                }
            }
        }

        func killIfRunning() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    @Test("Starts on an ephemeral port, reports it on stdout and in --port-file, answers, and exits 0 on SIGTERM")
    func runAndTerminate() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mpref-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let portFile = directory.appendingPathComponent("port")
        let scenarios = directory.appendingPathComponent("scenarios.json")
        try Data(
            #"{"scenarios": [{"access_token": 42, "steps": [{"status": "Complete", "row_count": 3, "byte_count": 4}]}]}"#
                .utf8
        ).write(to: scenarios)

        let child = try Child(arguments: ["--port", "0", "--port-file", portFile.path, "--scenarios", scenarios.path])
        defer { child.killIfRunning() }
        let line = await child.firstLine()
        let portText = try String(contentsOf: portFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let port = try #require(Int(portText))
        #expect(port > 0)
        #expect(line == "mpref-sim listening on http://127.0.0.1:\(port)/Profiles")

        let response = try await TestHTTP.send("http://127.0.0.1:\(port)/Profiles/Async/ACME_Co/Export/42/Status")
        #expect(response.status == 200)
        #expect(response.body == #"{"AccessToken":42,"Status":"Complete","RowCount":3,"ByteCount":4}"#)
        let health = try await TestHTTP.send("http://127.0.0.1:\(port)/_sim/health")
        #expect(try jsonObject(health.body)["recorded_requests"] as? Int == 1)

        kill(child.process.processIdentifier, SIGTERM)
        let status = await child.exited()
        #expect(status?.0 == .exit)
        #expect(status?.1 == 0)
    }

    @Test(
        "Bad arguments exit 64 with one line naming the value",
        arguments: [
            (["--port", "70000"], "70000"),
            (["--auth", "kerberos"], "kerberos"),
            (["--auth", "pnauthinfo3", "--user", "lonely"], "lonely"),
            (["--token-lifetime", "0"], "--token-lifetime"),
            (["--scenarios", "/nonexistent/scenarios.json"], "/nonexistent/scenarios.json"),
            (["--prefix", "Profiles"], "Profiles"),
        ])
    func badArguments(arguments: [String], named: String) async throws {
        let child = try Child(arguments: arguments)
        defer { child.killIfRunning() }
        let stderr = await child.allStderr()
        let status = await child.exited()
        #expect(status?.0 == .exit)
        #expect(status?.1 == 64)
        let lines = stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(stderr)")
        #expect(stderr.contains(named), "\(stderr)")
    }

    @Test("A secret given with --user never appears in an error")
    func secretNotEchoed() async throws {
        let child = try Child(arguments: ["--auth", "pnauthinfo3", "--user", "a=topsecret", "--user", "a=topsecret2"])
        defer { child.killIfRunning() }
        let stderr = await child.allStderr()
        #expect(await child.exited()?.1 == 64)
        #expect(stderr.contains("'a'"))
        #expect(!stderr.contains("topsecret"))
    }

    @Test("--help explains the scenario file format and exits 0")
    func help() async throws {
        let child = try Child(arguments: ["--help"])
        defer { child.killIfRunning() }
        let handle = child.stdout
        let text = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: String(decoding: handle.readDataToEndOfFile(), as: UTF8.self))
            }
        }
        #expect(await child.exited()?.1 == 0)
        for word in [
            "host_unavailable", "retry_after_s", "http-date", "delay_ms", "repeat", "drop", "raw", "--port-file",
            "segments", "initiate_faults", "changes_per_s", "history_s", "LastDateTime", "/_sim/initiations",
        ] {
            #expect(text.contains(word), "help lacks \(word)")
        }
    }
}

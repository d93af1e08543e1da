import Foundation
import MprefTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the real `mpref-sim` binary that `swift build` / `swift test` leave in `.build/debug`.
@Suite("mpref-sim executable", .timeLimit(.minutes(2)))
struct ExecutableTests {
    static let binary = URL(fileURLWithPath: BuiltBinaries.mprefSim)

    /// Starts `mpref-sim ARGUMENTS`, its stdout and stderr on pipes the test reads.
    static func start(_ arguments: [String]) throws -> ChildProcess {
        try #require(
            FileManager.default.isExecutableFile(atPath: binary.path), "build mpref-sim first: \(binary.path)")
        return try ChildProcess(binary.path, arguments, output: .pipes)
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

        let child = try Self.start(["--port", "0", "--port-file", portFile.path, "--scenarios", scenarios.path])
        defer { child.signal(SIGKILL) }
        let line = await child.readLine()
        let portText = try String(contentsOf: portFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let port = try #require(Int(portText))
        #expect(port > 0)
        #expect(line == "mpref-sim listening on http://127.0.0.1:\(port)/Profiles")

        let response = try await TestHTTP.send("http://127.0.0.1:\(port)/Profiles/Async/ACME_Co/Export/42/Status")
        #expect(response.status == 200)
        #expect(response.body == #"{"AccessToken":42,"Status":"Complete","RowCount":3,"ByteCount":4}"#)
        let health = try await TestHTTP.send("http://127.0.0.1:\(port)/_sim/health")
        #expect(try jsonObject(health.body)["recorded_requests"] as? Int == 1)

        child.signal(SIGTERM)
        let status = await child.waitForExit()
        #expect(child.terminationReason == .exit)
        #expect(status == 0)
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
        let child = try Self.start(arguments)
        defer { child.signal(SIGKILL) }
        let stderr = await child.readStderr()
        let status = await child.waitForExit()
        #expect(child.terminationReason == .exit)
        #expect(status == 64)
        let lines = stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(stderr)")
        #expect(stderr.contains(named), "\(stderr)")
    }

    @Test("A secret given with --user never appears in an error")
    func secretNotEchoed() async throws {
        let child = try Self.start(["--auth", "pnauthinfo3", "--user", "a=topsecret", "--user", "a=topsecret2"])
        defer { child.signal(SIGKILL) }
        let stderr = await child.readStderr()
        #expect(await child.waitForExit() == 64)
        #expect(stderr.contains("'a'"))
        #expect(!stderr.contains("topsecret"))
    }

    @Test("--help explains the scenario file format and exits 0")
    func help() async throws {
        let child = try Self.start(["--help"])
        defer { child.signal(SIGKILL) }
        let text = await child.readStdout()
        #expect(await child.waitForExit() == 0)
        for word in [
            "host_unavailable", "retry_after_s", "http-date", "delay_ms", "repeat", "drop", "raw", "--port-file",
            "segments", "initiate_faults", "changes_per_s", "history_s", "LastDateTime", "/_sim/initiations",
        ] {
            #expect(text.contains(word), "help lacks \(word)")
        }
    }
}

import Foundation
import Testing

@testable import MprefWorker

/// Real child processes through `/bin/sh -c`. Every timing bound is generous (a loaded 2-core box);
/// events (PID files, `onStart`) are awaited, not slept for.
@Suite("Hook process runner")
struct HookProcessTests {
    typealias Support = HookProcessTestSupport

    // MARK: Environment, stdin, working directory

    @Test func hookSeesExactlyTheGivenEnvironment() async throws {
        setenv("MPREFD_TEST_LEAK_MARKER", "leaked-from-daemon", 1)
        defer { unsetenv("MPREFD_TEST_LEAK_MARKER") }
        var environment = Support.environment
        environment["MPREFD_EXPORT_ID"] = "exp 42 / ünïcode = ok"
        environment["MPREFD_EMPTY"] = ""

        let result = try await Support.runner().run(
            Support.invocation("exec /usr/bin/env -0", environment: environment)
        )

        #expect(result.succeeded)
        var seen: [String: String] = [:]
        for entry in result.stdoutTail.split(separator: "\0", omittingEmptySubsequences: true) {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            seen[String(parts[0])] = parts.count > 1 ? String(parts[1]) : nil
        }
        #expect(seen["MPREFD_TEST_LEAK_MARKER"] == nil)
        // POSIX shells export PWD themselves: it is the working directory, not inherited.
        #expect(seen.removeValue(forKey: "PWD") == "/")
        #expect(seen == environment)
    }

    @Test func workingDirectoryDefaultsToRootAndCanBeSet() async throws {
        let scratch = try Support.makeScratch()
        defer { Support.removeScratch(scratch) }
        let runner = Support.runner()

        let atRoot = try await runner.run(Support.invocation("pwd -P"))
        var elsewhere = Support.invocation("pwd -P")
        elsewhere.workingDirectory = scratch.path
        let inScratch = try await runner.run(elsewhere)

        #expect(atRoot.stdoutTail == "/\n")
        #expect(inScratch.stdoutTail == scratch.resolvingSymlinksInPath().path + "\n")
    }

    @Test func standardInputIsDeliveredExactly() async throws {
        let json = Array(#"{"export":"a1","status":"COMPLETE","file":"x y.csv"}"#.utf8) + [0x0A]
        var invocation = Support.invocation("cat", standardInput: json)
        let small = try await Support.runner().run(invocation)
        #expect(small.stdoutTail == String(decoding: json, as: UTF8.self))
        #expect(small.stdoutBytes == Int64(json.count))

        // Larger than a pipe buffer both ways: writing and reading must overlap.
        let big = (0..<300_000).map { UInt8(ascii: "a") + UInt8($0 % 26) }
        invocation.standardInput = big
        invocation.tailBytes = big.count
        let echoed = try await Support.runner().run(invocation)
        #expect(echoed.succeeded)
        #expect(echoed.stdoutBytes == Int64(big.count))
        #expect(Array(echoed.stdoutTail.utf8) == big)
    }

    @Test(arguments: ["exit 0", "exec 0<&-; echo closed", "sleep 0.2; exit 0"])
    func hookIgnoringLargeStandardInputDoesNotBlock(command: String) async throws {
        let mebibyte = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        let clock = ContinuousClock()
        let started = clock.now
        let result = try await Support.runner().run(
            Support.invocation(command, standardInput: mebibyte, timeout: .seconds(60))
        )
        #expect(result.exitCode == 0)
        #expect(!result.timedOut)  // a runner blocked on the unread input would meet the 60 s timeout
        #expect(clock.now - started < .seconds(300))  // and it returned (generous: a starved 2-core machine)
    }

    // MARK: Exit status

    @Test(arguments: [
        ("exit 0", Int32?.some(0), Int32?.none, true),
        ("exit 3", 3, nil, false),
        ("echo oops >&2; exit 255", 255, nil, false),
        ("kill -TERM $$", nil, SIGTERM, false),
        ("kill -KILL $$", nil, SIGKILL, false),
    ])
    func exitStatusIsReported(command: String, exitCode: Int32?, signal: Int32?, succeeded: Bool) async throws {
        let result = try await Support.runner().run(Support.invocation(command))
        #expect(result.exitCode == exitCode)
        #expect(result.signal == signal)
        #expect(result.succeeded == succeeded)
        #expect(!result.timedOut)
        #expect(!result.interrupted)
    }

    @Test func onStartReportsTheHookPID() async throws {
        let recorder = HookStartRecorder()
        let result = try await Support.runner().run(Support.invocation("echo $$")) { pid in
            recorder.record(pid)
        }
        #expect(recorder.recorded.count == 1)
        let pid = try #require(recorder.recorded.first)
        #expect(result.stdoutTail == "\(pid)\n")
        #expect(Support.processIsGone(pid))
    }

    // MARK: Injection safety

    @Test func commandIsPassedVerbatimAndEnvironmentValuesAreNotEvaluated() async throws {
        let scratch = try Support.makeScratch()
        defer { Support.removeScratch(scratch) }
        let touched = scratch.appendingPathComponent("pwned").path
        let victim = scratch.appendingPathComponent("victim")
        try Data("keep".utf8).write(to: victim)
        let hostile = "$(touch \(touched)); rm -rf \(victim.path); `touch \(touched)` && touch \(touched) | x"
        var environment = Support.environment
        environment["MPREFD_FILE"] = hostile

        // Quotes, a literal `$HOME` in single quotes and a `#` must reach sh untouched.
        let command = #"printf '%s\n' "$MPREFD_FILE" '$HOME' "a  b" # trailing comment"#
        let result = try await Support.runner().run(Support.invocation(command, environment: environment))

        #expect(result.succeeded)
        #expect(result.stdoutTail == hostile + "\n$HOME\na  b\n")
        #expect(!FileManager.default.fileExists(atPath: touched))
        #expect(FileManager.default.fileExists(atPath: victim.path))
    }

    /// `/bin/sh -c "echo a\0rm x"` would run `echo a`: a command with NUL is refused, nothing starts.
    @Test func aCommandWithNULIsRejectedBeforeStarting() async throws {
        let recorder = HookStartRecorder()
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("mprefd-nul-\(UUID().uuidString)")
            .path
        let error = await #expect(throws: HookProcessError.self) {
            try await Support.runner().run(Support.invocation("touch '\(marker)'\0; echo after")) {
                recorder.record($0)
            }
        }
        #expect(error?.code == .invalidCommand)
        #expect(error?.description.contains("NUL") == true)
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(recorder.recorded.isEmpty)
    }

    @Test func invalidEnvironmentIsRejectedBeforeStarting() async throws {
        let recorder = HookStartRecorder()
        for environment in [["A=B": "x"], ["": "x"], ["OK": "nul\0inside"]] {
            let error = await #expect(throws: HookProcessError.self) {
                try await Support.runner().run(Support.invocation("true", environment: environment)) {
                    recorder.record($0)
                }
            }
            #expect(error?.code == .invalidEnvironment)
        }
        #expect(recorder.recorded.isEmpty)
    }

    @Test func unstartableHookThrowsSpawnFailed() async throws {
        let recorder = HookStartRecorder()
        var invocation = Support.invocation("true")
        invocation.workingDirectory = "/nonexistent/mprefd-\(UUID().uuidString)"
        let error = await #expect(throws: HookProcessError.self) {
            try await Support.runner().run(invocation) { recorder.record($0) }
        }
        #expect(error?.code == .spawnFailed)
        #expect(recorder.recorded.isEmpty)
    }

    // MARK: Output

    @Test func tenMebibytesOnEachStreamKeepExactTails() async throws {
        let size = 10 * 1024 * 1024
        let command = """
            { head -c \(size) /dev/zero | tr '\\0' a >&2; } &
            head -c \(size) /dev/zero | tr '\\0' a
            wait
            """
        let result = try await Support.runner().run(Support.invocation(command, timeout: .seconds(120)))

        #expect(result.succeeded)
        #expect(result.stdoutBytes == Int64(size))
        #expect(result.stderrBytes == Int64(size))
        #expect(result.stdoutTail == Support.a(8192))
        #expect(result.stderrTail == Support.a(8192))
    }

    // MARK: Timeout

    @Test func timeoutKillsTheWholeGroupAndLeavesNoSurvivor() async throws {
        let scratch = try Support.makeScratch()
        defer { Support.removeScratch(scratch) }
        let pidFile = scratch.appendingPathComponent("grandchild.pid")
        let command = "sleep 100000 & echo $! > '\(pidFile.path)'; sleep 1000"

        let clock = ContinuousClock()
        let started = clock.now
        let result = try await Support.runner().run(
            Support.invocation(command, timeout: .seconds(2), killGrace: .seconds(1))
        )
        let elapsed = clock.now - started

        #expect(result.timedOut)
        #expect(!result.interrupted)
        #expect(!result.succeeded)
        #expect(result.exitCode == nil)
        #expect(result.signal == SIGTERM)
        #expect(elapsed >= .seconds(2))
        #expect(elapsed < .seconds(300), "ended by the timeout, not by the command (1000 s)")
        let grandchild = try #require(await Support.readPID(pidFile))
        #expect(
            Support.processIsGone(grandchild),
            "grandchild state: \(String(describing: Support.processState(grandchild)))")
    }

    @Test func hookIgnoringSIGTERMIsKilledAfterTheGrace() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        let recorder = HookStartRecorder()
        let result = try await Support.runner().run(
            Support.invocation("trap '' TERM; sleep 1000", timeout: .seconds(1), killGrace: .seconds(1))
        ) { recorder.record($0) }
        let elapsed = clock.now - started

        #expect(result.timedOut)
        #expect(result.signal == SIGKILL)
        #expect(elapsed >= .seconds(2))
        #expect(elapsed < .seconds(300), "killed after the grace, not ended by the command (1000 s)")
        #expect(Support.processIsGone(try #require(recorder.recorded.first)))
    }

    /// The leader dies on SIGTERM while a background member ignores it: the member must not outlive
    /// the hook (and not wait out the long grace either).
    @Test func memberIgnoringSIGTERMDiesWithTheLeader() async throws {
        let scratch = try Support.makeScratch()
        defer { Support.removeScratch(scratch) }
        let pidFile = scratch.appendingPathComponent("stubborn.pid")
        let command = """
            sh -c 'trap "" TERM; echo $$ > "$0"; exec sleep 100000' '\(pidFile.path)' &
            sleep 1000
            """
        let clock = ContinuousClock()
        let started = clock.now
        let result = try await Support.runner().run(
            Support.invocation(command, timeout: .seconds(2), killGrace: .seconds(600))
        )

        #expect(result.timedOut)
        #expect(result.signal == SIGTERM)
        #expect(clock.now - started < .seconds(300), "waited out the 600 s grace")
        let stubborn = try #require(await Support.readPID(pidFile))
        #expect(Support.processIsGone(stubborn), "state: \(String(describing: Support.processState(stubborn)))")
    }

    @Test func backgroundJobOfASuccessfulHookIsKilledAndReaped() async throws {
        let scratch = try Support.makeScratch()
        defer { Support.removeScratch(scratch) }
        let pidFile = scratch.appendingPathComponent("bg.pid")
        // The background job keeps stdout open: the runner must not wait for its EOF either.
        let result = try await Support.runner().run(
            Support.invocation("sleep 100000 & echo $! > '\(pidFile.path)'; echo done")
        )
        #expect(result.succeeded)
        #expect(result.stdoutTail == "done\n")
        let background = try #require(await Support.readPID(pidFile))
        #expect(Support.processIsGone(background), "state: \(String(describing: Support.processState(background)))")
    }

    /// A hook that closes its output early is still awaited to its exit, and still timed out.
    @Test func hookClosingItsOutputIsStillAwaitedAndTimedOut() async throws {
        let runner = Support.runner()
        let finishes = try await runner.run(Support.invocation("echo before; exec >&- 2>&-; sleep 1; exit 4"))
        #expect(finishes.exitCode == 4)
        #expect(finishes.stdoutTail == "before\n")
        #expect(finishes.duration >= .seconds(1))

        let hangs = try await runner.run(
            Support.invocation("exec >&- 2>&-; sleep 100", timeout: .seconds(1), killGrace: .seconds(1))
        )
        #expect(hangs.timedOut)
        #expect(hangs.signal == SIGTERM)
        #expect(hangs.duration < .seconds(60))  // timed out, not waited for (`sleep 100`)
    }

    // MARK: Cancellation

    @Test func cancellationInterruptsTheHookPromptly() async throws {
        let (starts, started) = AsyncStream.makeStream(of: Int32.self)
        let runner = Support.runner()
        let run = Task {
            try await runner.run(Support.invocation("sleep 3000", timeout: .seconds(3000), killGrace: .seconds(10))) {
                pid in
                started.yield(pid)
            }
        }
        var iterator = starts.makeAsyncIterator()
        let pid = try #require(await iterator.next())
        let clock = ContinuousClock()
        let cancelledAt = clock.now
        run.cancel()
        let result = try await run.value

        #expect(result.interrupted)
        #expect(!result.timedOut)
        #expect(!result.succeeded)
        #expect(result.signal == SIGTERM)
        // SIGTERM at once (the kill grace is 10 s, the command 3000 s): loosely bounded for a starved machine.
        #expect(clock.now - cancelledAt < .seconds(300))
        #expect(Support.processIsGone(pid))
    }

    @Test func cancellationEscalatesToSIGKILLAfterTheGrace() async throws {
        let (starts, started) = AsyncStream.makeStream(of: Int32.self)
        let runner = Support.runner()
        let scratch = try Support.makeScratch()
        defer { Support.removeScratch(scratch) }
        let ready = scratch.appendingPathComponent("trapped")
        let run = Task {
            try await runner.run(
                Support.invocation(
                    "trap '' TERM; echo ready > '\(ready.path)'; sleep 100", timeout: .seconds(300),
                    killGrace: .seconds(1))
            ) { pid in
                started.yield(pid)
            }
        }
        var iterator = starts.makeAsyncIterator()
        let pid = try #require(await iterator.next())
        // Wait until the trap is installed, or SIGTERM could land first.
        #expect(try await Support.readWhenPresent(ready, limit: .seconds(20)) == "ready")
        run.cancel()
        let result = try await run.value

        #expect(result.interrupted)
        #expect(result.signal == SIGKILL)
        #expect(Support.processIsGone(pid))
    }

    @Test func alreadyCancelledCallerStartsNothing() async throws {
        let scratch = try Support.makeScratch()
        defer { Support.removeScratch(scratch) }
        let marker = scratch.appendingPathComponent("ran")
        let recorder = HookStartRecorder()
        let runner = Support.runner()
        let run = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await runner.run(Support.invocation("touch '\(marker.path)'")) { recorder.record($0) }
        }
        let result = try await run.value
        #expect(result.interrupted)
        #expect(result.exitCode == nil)
        #expect(recorder.recorded.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: marker.path))
    }

    // MARK: Descriptor hygiene

    @Test func onlyStandardDescriptorsReachTheHook() async throws {
        // A descriptor the daemon holds without O_CLOEXEC must still not leak.
        let leaky = open("/dev/null", O_RDONLY)
        try #require(leaky >= 0)
        defer { close(leaky) }

        let result = try await Support.runner().run(Support.invocation("exec ls -1 /proc/self/fd"))

        #expect(result.succeeded)
        let descriptors = Set(result.stdoutTail.split(separator: "\n").map(String.init))
        // 0, 1, 2 and the directory descriptor `ls` opens to list /proc/self/fd.
        #expect(descriptors.isSuperset(of: ["0", "1", "2"]))
        #expect(descriptors.subtracting(["0", "1", "2"]).count <= 1)
        #expect(!descriptors.contains("\(leaky)"))
    }

    @Test func sigpipeIsIgnoredInTheDaemonButNotInHooks() async throws {
        // `yes` dies of SIGPIPE when `head` closes the pipe; with SIGPIPE inherited as ignored it
        // would instead report a write error on stderr.
        let result = try await Support.runner().run(Support.invocation("yes | head -n 1"))
        #expect(result.succeeded)
        #expect(result.stdoutTail == "y\n")
        #expect(result.stderrTail == "")
        var action = sigaction()
        sigaction(SIGPIPE, nil, &action)
        #expect(
            unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self))
    }
}

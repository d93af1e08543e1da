import CMprefSystem
import Logging
import MprefCore
import Subprocess
import Synchronization

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs one hook command as a child process, safely: `/bin/sh -c command` in its own process group,
/// with exactly the given environment, stdin written then closed, stdout and stderr drained
/// concurrently into bounded tails, a timeout (`SIGTERM` to the group, `SIGKILL` after the grace),
/// and nothing left behind — no surviving group member, no zombie.
///
/// Cancelling the calling task (daemon shutdown) does not throw: the hook's group gets `SIGTERM`,
/// then `SIGKILL` after ``HookInvocation/killGrace``, and `run` returns with `interrupted == true`.
package struct HookProcessRunner: Sendable {
    private let logger: Logger

    /// - Parameter logger: Receives `debug` lines for start and end of each hook and `warning`s for
    ///   timeouts and unreapable leftovers; metadata keys are `hook.*`.
    package init(logger: Logger) {
        self.logger = logger
    }

    /// Makes the daemon a child subreaper (Linux `prctl(PR_SET_CHILD_SUBREAPER, 1)`), so background
    /// jobs orphaned by a hook are re-parented to the daemon and `run` can reap them instead of
    /// leaving that to PID 1. Call once at daemon start, before running hooks.
    ///
    /// - Returns: `false` when the kernel refused (or on non-Linux systems); hooks still run, but
    ///   orphans are reaped by PID 1.
    package static func becomeSubreaper() -> Bool {
        mpref_set_child_subreaper() == 0
    }

    /// Runs the hook to its end and reports how it ended.
    ///
    /// - Parameters:
    ///   - invocation: The command, environment, stdin bytes, limits and working directory.
    ///   - onStart: Called once with the hook's PID (also its process group ID) right after the
    ///     spawn, before the hook is awaited. Not called when the hook never started.
    /// - Returns: Exit code or signal, whether the runner killed the hook (``HookProcessResult/timedOut``,
    ///   ``HookProcessResult/interrupted``), output tails and byte counts, and the duration. When
    ///   the calling task is already cancelled, nothing is started and the result is `interrupted`
    ///   with no exit code.
    /// - Throws: ``HookProcessError`` with ``HookProcessError/Code/invalidEnvironment`` or
    ///   ``HookProcessError/Code/spawnFailed`` when the process could not be started at all, and
    ///   ``HookProcessError/Code/monitoringFailed`` in the unlikely case that its end could not be
    ///   observed (its group is killed then). Never throws `CancellationError`.
    package func run(
        _ invocation: HookInvocation,
        onStart: @Sendable (Int32) -> Void = { _ in }
    ) async throws -> HookProcessResult {
        BrokenPipe.ignoreOnce()
        if Task.isCancelled {
            logger.debug("Hook not started: shutting down", metadata: ["hook.command": "\(invocation.command)"])
            return .notStarted
        }
        let (interruptions, interruption) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let spawn = SpawnNotice()
        return try await withTaskCancellationHandler {
            // Cancellation must not reach the pipes and timers of a running hook (reads would stop,
            // sleeps would end): it is turned into the SIGTERM → grace → SIGKILL sequence instead.
            // Hence an uncancelled task, awaited right here.
            let execution = Task {
                try await self.execute(invocation, interruptions: interruptions, spawn: spawn)
            }
            if let pid = await spawn.pid() {
                onStart(pid)
            }
            return try await execution.value
        } onCancel: {
            interruption.yield(())
        }
    }

    // MARK: - Execution

    private struct Outputs: Sendable {
        var stdout: TailBuffer
        var stderr: TailBuffer
    }

    private func execute(
        _ invocation: HookInvocation,
        interruptions: AsyncStream<Void>,
        spawn: SpawnNotice
    ) async throws -> HookProcessResult {
        defer { spawn.resolve(nil) }
        guard !invocation.command.utf8.contains(0) else {
            throw HookProcessError(
                code: .invalidCommand,
                reason: "the command contains a NUL byte; /bin/sh would run only what comes before it")
        }
        let environment = try Self.environmentEntries(invocation.environment)

        var options = PlatformOptions()
        options.processGroupID = 0
        // Only used by swift-subprocess if our body threw (it does not); the final implicit
        // SIGKILL inherits `toProcessGroup`.
        options.teardownSequence = [
            .send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: invocation.killGrace)
        ]
        let configuration = Configuration(
            executable: .path("/bin/sh"),
            arguments: ["-c", invocation.command],
            environment: .custom(environment),
            workingDirectory: FilePath(invocation.workingDirectory ?? "/"),
            platformOptions: options
        )

        let clock = ContinuousClock()
        let startedAt = clock.now
        let started = Mutex<HookProcessGroup?>(nil)
        let outcome: ExecutionResult<Outputs, SequenceOutput, SequenceOutput>
        do {
            outcome = try await withThrowingTaskGroup(of: Void.self) { watchdog in
                let outcome = try await Subprocess.run(
                    configuration,
                    input: .inputWriter,
                    output: .sequence,
                    error: .sequence
                ) { execution in
                    let pid = execution.processIdentifier.value
                    let group = HookProcessGroup(id: pid)
                    started.withLock { $0 = group }
                    spawn.resolve(pid)
                    logger.debug(
                        "Hook started", metadata: ["hook.pid": "\(pid)", "hook.command": "\(invocation.command)"])
                    watchdog.addTask {
                        await Self.watch(group, invocation: invocation, interruptions: interruptions, logger: logger)
                    }
                    let outputs = await Self.exchange(with: execution, invocation: invocation, logger: logger)
                    // Drains end when the hook exits, or earlier when it closes its output; either
                    // way keep the leader unreaped (group ID reserved) until it is gone, then kill
                    // whatever is left in its group.
                    await HookProcessGroup.waitForLeaderExit(pid)
                    group.settle()
                    return outputs
                }
                watchdog.cancelAll()
                return outcome
            }
        } catch {
            let group = started.withLock { $0 }
            if let group {
                group.settle()
                _ = await HookProcessGroup.reapOrphans(ofGroup: group.id, deadline: clock.now + .seconds(2))
                logger.error(
                    "Hook could not be followed", metadata: ["hook.pid": "\(group.id)", "hook.error": "\(error)"])
                throw HookProcessError(code: .monitoringFailed, reason: Self.reason(for: error), pid: group.id)
            }
            logger.error("Hook could not be started", metadata: ["hook.error": "\(error)"])
            throw HookProcessError(code: .spawnFailed, reason: Self.reason(for: error))
        }

        let pgid = outcome.processIdentifier.value
        let orphans = await HookProcessGroup.reapOrphans(ofGroup: pgid, deadline: clock.now + .seconds(5))
        let duration = clock.now - startedAt
        let reason = started.withLock { $0?.terminationReason }
        let outputs = outcome.closureResult

        var result = HookProcessResult(
            exitCode: nil,
            signal: nil,
            timedOut: reason == .timedOut,
            interrupted: reason == .interrupted,
            stdoutTail: outputs.stdout.text,
            stderrTail: outputs.stderr.text,
            stdoutBytes: outputs.stdout.totalBytes,
            stderrBytes: outputs.stderr.totalBytes,
            duration: duration
        )
        switch outcome.terminationStatus {
        case .exited(let code):
            result.exitCode = code
        case .signaled(let signal):
            result.signal = signal
        }

        var metadata: Logger.Metadata = [
            "hook.pid": "\(pgid)",
            "hook.exit_code": "\(result.exitCode.map(String.init) ?? "-")",
            "hook.signal": "\(result.signal.map(String.init) ?? "-")",
            "hook.timed_out": "\(result.timedOut)",
            "hook.interrupted": "\(result.interrupted)",
            "hook.duration_s":
                "\(Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)",
            "hook.stdout_bytes": "\(result.stdoutBytes)",
            "hook.stderr_bytes": "\(result.stderrBytes)",
        ]
        if orphans.reaped > 0 {
            metadata["hook.orphans_reaped"] = "\(orphans.reaped)"
        }
        if orphans.leftAlive {
            logger.warning("Hook left processes that did not die after SIGKILL", metadata: metadata)
        }
        if result.timedOut {
            logger.warning("Hook timed out and was killed", metadata: metadata)
        } else {
            logger.debug("Hook finished", metadata: metadata)
        }
        return result
    }

    /// Writes stdin (then closes it) and drains stdout and stderr, all three at once, until the
    /// streams end. Never throws: a hook that does not read its stdin just ends the write.
    private static func exchange(
        with execution: Execution<CustomWriteInput, SequenceOutput, SequenceOutput>,
        invocation: HookInvocation,
        logger: Logger
    ) async -> Outputs {
        enum Drained: Sendable {
            case input
            case stdout(TailBuffer)
            case stderr(TailBuffer)
        }
        let tailBytes = invocation.tailBytes
        let input = invocation.standardInput
        return await withTaskGroup(of: Drained.self) { group in
            group.addTask {
                let writer = execution.standardInputWriter
                if !input.isEmpty {
                    do {
                        _ = try await writer.write(input)
                    } catch {
                        // EPIPE and friends: the hook closed stdin or exited without reading it.
                        logger.debug("Hook did not read all of its stdin", metadata: ["hook.error": "\(error)"])
                    }
                }
                try? await writer.finish()
                return .input
            }
            group.addTask {
                .stdout(await drain(execution.standardOutput, keeping: tailBytes, logger: logger))
            }
            group.addTask {
                .stderr(await drain(execution.standardError, keeping: tailBytes, logger: logger))
            }
            var outputs = Outputs(stdout: TailBuffer(capacity: tailBytes), stderr: TailBuffer(capacity: tailBytes))
            for await drained in group {
                switch drained {
                case .input: break
                case .stdout(let tail): outputs.stdout = tail
                case .stderr(let tail): outputs.stderr = tail
                }
            }
            return outputs
        }
    }

    private static func drain(_ stream: SubprocessOutputSequence, keeping tailBytes: Int, logger: Logger) async
        -> TailBuffer
    {
        var tail = TailBuffer(capacity: tailBytes)
        do {
            for try await chunk in stream {
                chunk.withUnsafeBytes { tail.append($0) }
            }
        } catch {
            logger.warning("Hook output could not be read", metadata: ["hook.error": "\(error)"])
        }
        return tail
    }

    /// Waits for the timeout or an interruption, whichever comes first, then sends `SIGTERM` to the
    /// group and `SIGKILL` after the grace. Cancelled (and silent) once the hook has ended.
    private static func watch(
        _ group: HookProcessGroup,
        invocation: HookInvocation,
        interruptions: AsyncStream<Void>,
        logger: Logger
    ) async {
        let timeout = invocation.timeout
        let trigger = await withTaskGroup(of: HookTerminationReason?.self, returning: HookTerminationReason?.self) {
            triggers in
            triggers.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    return .timedOut
                } catch {
                    return nil
                }
            }
            triggers.addTask {
                for await _ in interruptions {
                    return .interrupted
                }
                return nil
            }
            for await trigger in triggers {
                if let trigger {
                    triggers.cancelAll()
                    return trigger
                }
            }
            return nil
        }
        guard let trigger, group.terminate(because: trigger) else { return }
        logger.debug(
            "Hook sent SIGTERM",
            metadata: ["hook.pid": "\(group.id)", "hook.reason": "\(trigger == .timedOut ? "timeout" : "interrupted")"]
        )
        do {
            try await Task.sleep(for: invocation.killGrace)
        } catch {
            return  // The leader exited; `settle()` kills what is left of the group.
        }
        logger.debug("Hook sent SIGKILL after the grace", metadata: ["hook.pid": "\(group.id)"])
        group.forceKill()
    }

    // MARK: - Helpers

    /// `KEY=value` entries for the exact environment, rejecting what `execve` cannot express.
    static func environmentEntries(_ environment: [String: String]) throws -> [[UInt8]] {
        try environment.sorted { $0.key < $1.key }.map { key, value in
            if key.isEmpty || key.utf8.contains(UInt8(ascii: "=")) || key.utf8.contains(0) {
                throw HookProcessError(
                    code: .invalidEnvironment, reason: "environment key '\(key)' is empty or contains '=' or NUL")
            }
            if value.utf8.contains(0) {
                throw HookProcessError(
                    code: .invalidEnvironment, reason: "value of environment key '\(key)' contains NUL")
            }
            // NUL-terminated: swift-subprocess 1.0.2 hands each raw entry to `strdup` as is, so an
            // unterminated array would pick up whatever bytes follow it in memory.
            return Array("\(key)=\(value)".utf8) + [0]
        }
    }

    private static func reason(for error: any Error) -> String {
        if let error = error as? SubprocessError {
            return error.description
        }
        return "\(error)"
    }
}

extension HookProcessResult {
    /// The result for a hook not started because the calling task was already cancelled.
    static let notStarted = HookProcessResult(
        exitCode: nil,
        signal: nil,
        timedOut: false,
        interrupted: true,
        stdoutTail: "",
        stderrTail: "",
        stdoutBytes: 0,
        stderrBytes: 0,
        duration: .zero
    )
}

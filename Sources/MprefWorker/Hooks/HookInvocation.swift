/// One hook execution request: what the hook process runner starts and how long it lets it run.
///
/// The runner executes `/bin/sh -c command` with exactly `environment` (nothing is inherited from the
/// daemon), writes `standardInput` to the hook's stdin and then closes it, and keeps only the last
/// `tailBytes` bytes of each of stdout and stderr.
package struct HookInvocation: Sendable, Hashable {
    /// The shell command, passed verbatim as the single argument after `-c` to `/bin/sh`.
    /// The runner never interpolates anything into it; values reach the hook only through `environment`.
    package var command: String

    /// The complete environment of the hook (the caller builds it: `PATH`, `HOME`, `LANG`, `TZ`,
    /// `MPREFD_*`). Nothing is inherited from the daemon; `/bin/sh` itself adds only `PWD` (the
    /// working directory), as POSIX shells do. Keys must be non-empty and contain neither
    /// `=` nor NUL; values must not contain NUL — otherwise `run` throws
    /// ``HookProcessError/Code/invalidEnvironment`` without starting anything.
    package var environment: [String: String]

    /// Bytes written to the hook's stdin (e.g. one JSON object followed by `"\n"`), after which stdin
    /// is closed. A hook that never reads stdin does not block the runner: a broken pipe only ends
    /// the write. Default: empty (the hook sees end-of-file at once).
    package var standardInput: [UInt8]

    /// How long the hook may run before its process group gets `SIGTERM`. Default: 10 minutes.
    package var timeout: Duration

    /// How long after `SIGTERM` (on timeout or cancellation) the process group gets `SIGKILL`.
    /// Default: 10 seconds.
    package var killGrace: Duration

    /// How many trailing bytes of each of stdout and stderr are kept for the result; earlier bytes
    /// are counted and discarded. Values below zero count as zero. Default: 8192.
    package var tailBytes: Int

    /// The working directory of the hook; `nil` means `/`. Default: `nil`.
    package var workingDirectory: String?

    /// Creates a hook invocation; every parameter but `command` has the documented default.
    package init(
        command: String,
        environment: [String: String] = [:],
        standardInput: [UInt8] = [],
        timeout: Duration = .seconds(600),
        killGrace: Duration = .seconds(10),
        tailBytes: Int = 8192,
        workingDirectory: String? = nil
    ) {
        self.command = command
        self.environment = environment
        self.standardInput = standardInput
        self.timeout = timeout
        self.killGrace = killGrace
        self.tailBytes = tailBytes
        self.workingDirectory = workingDirectory
    }
}

/// How one hook process ended, with the tails of its output.
package struct HookProcessResult: Sendable, Hashable {
    /// The hook's exit code; `nil` when it was ended by a signal (or never started because the
    /// calling task was already cancelled).
    package var exitCode: Int32?
    /// The signal that ended the hook (`SIGTERM` = 15, `SIGKILL` = 9, …), if any.
    package var signal: Int32?
    /// The runner killed the hook because it outlived ``HookInvocation/timeout``.
    package var timedOut: Bool
    /// The runner killed the hook (or did not start it) because the calling task was cancelled,
    /// which is how daemon shutdown reaches a running hook.
    package var interrupted: Bool
    /// The last ``HookInvocation/tailBytes`` bytes of stdout, decoded as UTF-8 (invalid sequences
    /// replaced; a character cut at the start of the tail is dropped).
    package var stdoutTail: String
    /// The last ``HookInvocation/tailBytes`` bytes of stderr, decoded like ``stdoutTail``.
    package var stderrTail: String
    /// Every byte the hook wrote to stdout, kept or not.
    package var stdoutBytes: Int64
    /// Every byte the hook wrote to stderr, kept or not.
    package var stderrBytes: Int64
    /// Wall time (monotonic clock) from just before the spawn until the hook was reaped.
    package var duration: Duration

    /// The hook ran to the end on its own and exited with code 0.
    package var succeeded: Bool { exitCode == 0 && !timedOut && !interrupted }

    package init(
        exitCode: Int32?,
        signal: Int32?,
        timedOut: Bool,
        interrupted: Bool,
        stdoutTail: String,
        stderrTail: String,
        stdoutBytes: Int64,
        stderrBytes: Int64,
        duration: Duration
    ) {
        self.exitCode = exitCode
        self.signal = signal
        self.timedOut = timedOut
        self.interrupted = interrupted
        self.stdoutTail = stdoutTail
        self.stderrTail = stderrTail
        self.stdoutBytes = stdoutBytes
        self.stderrBytes = stderrBytes
        self.duration = duration
    }
}

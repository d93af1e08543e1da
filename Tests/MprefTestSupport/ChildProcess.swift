import Dispatch
import Foundation
import Synchronization

/// A child process of a test — the real `mprefd` or `mpref-sim` binary, `sqlite3`, `openssl`, `setpriv` —
/// started at once, its exit observed through the process's termination handler (no polling).
///
/// One type for the two ways the tests use a child:
/// - left running (a daemon, a simulator, a lock holder): `init`, then ``signal(_:)``, ``killNine()``,
///   ``waitForExit(timeout:)``, ``stop(grace:)``, and ``stopNow(grace:)`` in a `defer`;
/// - run to its end: ``run(_:_:environment:in:stdin:mergingStderr:timeout:)``, which returns a ``Result``.
///
/// Where the output goes is an ``Output``: one log file (`.log`), the same file filled through a pipe this
/// process copies (`.logThroughPipe`, so that a file-size limit set on the child spares its log), two
/// files (`.files`), pipes the test reads (`.pipes`), or a pipe whose reader is gone (`.closedStderrPipe`).
/// The standard input is `/dev/null`, or a text given as a file (so that a large one cannot block).
///
/// Files are created in the child's working directory (the `directory` given; the system's temporary
/// directory when there is none). A child never outlives a failing test by more than its grace:
/// `defer { child.stopNow() }` right after starting it.
///
/// On Linux, Foundation's `Process` reports the exit only once every process that inherited the child's
/// descriptors has ended: a shell killed while a command it started runs on (`sh -c 'sleep 100'`) counts as
/// running until that command ends too. Signal what you mean to stop, or `exec` it from the shell.
package final class ChildProcess: @unchecked Sendable {
    /// Where the child's stdout and stderr go.
    package enum Output: Sendable {
        /// Both into one file, `NAME-XXXXXXXX.log` (8 random hex digits), read with ``log``.
        case log(String)
        /// Both into a pipe that this process copies into `NAME-XXXXXXXX.log` (``log``): a limit on the
        /// child's file size (`RLIMIT_FSIZE`, e.g. set by `prlimit` through a shell) does not cut its log.
        case logThroughPipe(String)
        /// stdout into `NAME.out` (``stdout``), stderr into `NAME.err` (``stderr``).
        case files(String)
        /// Pipes that the test reads: ``readLine()``, ``readStdout()``, ``readStderr()``.
        case pipes
        /// stdout to `/dev/null`; stderr into a pipe whose read end is closed once the child started,
        /// so that every write of the child to stderr fails (`EPIPE`, `SIGPIPE`).
        case closedStderrPipe
    }

    /// How the child ended.
    package struct Exit: Sendable, Equatable {
        /// `.exit` or `.uncaughtSignal`.
        package var reason: Process.TerminationReason
        /// The exit status, or the number of the signal that ended it.
        package var status: Int32
    }

    /// What a child run to its end wrote.
    package struct Result: Sendable {
        package var status: Int32
        package var stdout: String
        package var stderr: String

        package init(status: Int32, stdout: String, stderr: String) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
        }

        /// stdout parsed as JSON.
        package func json() throws -> Any {
            try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        }
    }

    private struct State {
        var exit: Exit?
        var waiters: [Int: CheckedContinuation<Exit?, Never>] = [:]
        var nextWaiter = 0
    }

    /// The state, in a box the termination handler holds (not the child: no reference cycle through `process`).
    private final class StateBox: Sendable {
        let mutex = Mutex(State())
    }

    /// The underlying `Process` (started).
    package let process = Process()
    /// The combined output file of `.log` and `.logThroughPipe`, else `nil`.
    package let logPath: String?
    /// The stdout and stderr files of `.files`, else `nil`.
    package let stdoutPath: String?
    package let stderrPath: String?
    private let box = StateBox()
    private let stdoutPipe: FileHandle?
    private let stderrPipe: FileHandle?

    /// Starts `executable ARGUMENTS`.
    ///
    /// - Parameters:
    ///   - environment: exactly this environment; `nil` inherits this process's.
    ///   - directory: the working directory, where the output files go; `nil`: this process's working
    ///     directory, files in the system's temporary directory.
    ///   - output: see ``Output``.
    ///   - stdin: given to the child through a file in the output files' directory; `nil`: `/dev/null`.
    /// - Throws: when a file cannot be created or the executable cannot be started.
    package init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, in directory: URL? = nil,
        output: Output = .log("child"), stdin: String? = nil
    ) throws {
        let files = directory ?? FileManager.default.temporaryDirectory
        func create(_ name: String) throws -> (String, FileHandle) {
            let path = files.appendingPathComponent(name).path
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            return (path, try FileHandle(forWritingTo: URL(fileURLWithPath: path)))
        }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }

        var handlesToClose: [FileHandle] = []
        var closedPipeEnds: [Int32] = []
        var logPath: String?, stdoutPath: String?, stderrPath: String?
        var stdoutPipe: FileHandle?, stderrPipe: FileHandle?
        switch output {
        case .log(let name):
            let (path, log) = try create("\(name)-\(UUID().uuidString.prefix(8)).log")
            logPath = path
            process.standardOutput = log
            process.standardError = log
            handlesToClose = [log]
        case .logThroughPipe(let name):
            let (path, log) = try create("\(name)-\(UUID().uuidString.prefix(8)).log")
            logPath = path
            let pipe = Pipe()
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty {
                    handle.readabilityHandler = nil
                    try? log.close()
                } else {
                    log.write(data)
                }
            }
            process.standardOutput = pipe
            process.standardError = pipe
        case .files(let name):
            let (outPath, out) = try create("\(name).out")
            let (errPath, err) = try create("\(name).err")
            (stdoutPath, stderrPath) = (outPath, errPath)
            process.standardOutput = out
            process.standardError = err
            handlesToClose = [out, err]
        case .pipes:
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            (stdoutPipe, stderrPipe) = (out.fileHandleForReading, err.fileHandleForReading)
        case .closedStderrPipe:
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { throw ChildProcessError("pipe: errno \(errno)") }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle(fileDescriptor: ends[1], closeOnDealloc: false)
            closedPipeEnds = ends
        }
        var inputPath: String?
        if let stdin {
            let path = files.appendingPathComponent("in-\(UUID().uuidString)").path
            try Data(stdin.utf8).write(to: URL(fileURLWithPath: path))
            let input = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            process.standardInput = input
            handlesToClose.append(input)
            inputPath = path
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        (self.logPath, self.stdoutPath, self.stderrPath) = (logPath, stdoutPath, stderrPath)
        (self.stdoutPipe, self.stderrPipe) = (stdoutPipe, stderrPipe)

        let box = self.box
        process.terminationHandler = { finished in
            let exit = Exit(reason: finished.terminationReason, status: finished.terminationStatus)
            let waiters = box.mutex.withLock { s in
                s.exit = exit
                defer { s.waiters = [:] }
                return s.waiters.values
            }
            for waiter in waiters { waiter.resume(returning: exit) }
        }
        defer {
            // The child has its own copies of these descriptors.
            for handle in handlesToClose { try? handle.close() }
            for end in closedPipeEnds { close(end) }
            if let inputPath { try? FileManager.default.removeItem(atPath: inputPath) }
        }
        try process.run()
    }

    package var pid: Int32 { process.processIdentifier }
    /// Whether the child has not exited yet (as its termination handler saw it).
    package var isRunning: Bool { box.mutex.withLock { $0.exit == nil } }
    /// How it ended; `nil` while it runs.
    package var exit: Exit? { box.mutex.withLock { $0.exit } }
    /// Its exit status (or ending signal's number), `nil` while it runs.
    package var exitStatus: Int32? { exit?.status }
    /// `.exit` or `.uncaughtSignal`; `nil` while it runs.
    package var terminationReason: Process.TerminationReason? { exit?.reason }

    /// The combined output so far (`.log`, `.logThroughPipe`); `""` for other outputs or before any.
    package var log: String { Self.read(logPath) }
    /// stdout so far (`.files`).
    package var stdout: String { Self.read(stdoutPath) }
    /// stderr so far (`.files`).
    package var stderr: String { Self.read(stderrPath) }

    private static func read(_ path: String?) -> String {
        path.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
    }

    /// Sends `signal`, unless the child has exited.
    package func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits up to `timeout` for the exit; the exit status, or `nil` while it still runs (it is left running).
    @discardableResult
    package func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        if let exit { return exit.status }
        return await withTaskGroup(of: Exit?.self) { group in
            group.addTask { await self.exited() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return (first ?? self.exit)?.status
        }
    }

    /// `kill -9`, then waits (up to 30 s) for the exit.
    package func killNine() async {
        signal(SIGKILL)
        await waitForExit(timeout: .seconds(30))
    }

    /// SIGTERM, then SIGKILL if it still runs after `grace`; the exit status, or `nil` when it had to
    /// be killed (or did not end even then). Safe to call twice.
    @discardableResult
    package func stop(grace: Duration = .seconds(15)) async -> Int32? {
        if let exit { return exit.status }
        signal(SIGTERM)
        if let status = await waitForExit(timeout: grace) { return status }
        signal(SIGKILL)
        await waitForExit(timeout: .seconds(5))
        return nil
    }

    /// `stop()` for `defer`: SIGTERM now (SIGKILL at once when `grace` is zero), SIGKILL after `grace`
    /// if it still runs. Synchronous and it does not wait: the caller is one of the cooperative pool's
    /// threads (2 on 2 cores), which every test and the in-process simulators share. Safe to call twice.
    package func stopNow(grace: Duration = .seconds(15)) {
        guard isRunning else { return }
        guard grace > .zero else { return signal(SIGKILL) }
        signal(SIGTERM)
        let milliseconds = Int(min(max(grace / .milliseconds(1), 0), 86_400_000))
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) { [self] in signal(SIGKILL) }
    }

    /// The first line of stdout, without its newline (`.pipes`); what there is when stdout ends first.
    package func readLine() async -> String {
        guard let handle = stdoutPipe else { return "" }
        return await Self.onOwnThread {
            var data = Data()
            while !data.contains(UInt8(ascii: "\n")) {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                data.append(chunk)
            }
            return String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        }
    }

    /// Everything on stdout until the child closes it (`.pipes`).
    package func readStdout() async -> String {
        guard let handle = stdoutPipe else { return "" }
        return await Self.onOwnThread { String(decoding: handle.readDataToEndOfFile(), as: UTF8.self) }
    }

    /// Everything on stderr until the child closes it (`.pipes`).
    package func readStderr() async -> String {
        guard let handle = stderrPipe else { return "" }
        return await Self.onOwnThread { String(decoding: handle.readDataToEndOfFile(), as: UTF8.self) }
    }

    /// A blocking read on a thread of its own, not one of the cooperative pool's.
    private static func onOwnThread(_ body: @escaping @Sendable () -> String) async -> String {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }

    /// Suspends until the termination handler reports the exit; `nil` when the task is cancelled first.
    private func exited() async -> Exit? {
        let id = box.mutex.withLock { s in
            defer { s.nextWaiter += 1 }
            return s.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Exit?, Never>) in
                let now = box.mutex.withLock { s -> Exit?? in
                    if let exit = s.exit { return .some(exit) }
                    if Task.isCancelled { return .some(nil) }
                    s.waiters[id] = continuation
                    return .none
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            box.mutex.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: nil)
        }
    }
}

extension ChildProcess {
    /// Runs `executable ARGUMENTS` to its end; stdout and stderr go through files (removed afterwards) so
    /// that a large output cannot block it.
    ///
    /// - Parameters:
    ///   - environment: exactly this environment; `nil` inherits this process's.
    ///   - directory: its working directory, where the files go.
    ///   - stdin: its standard input; `nil`: `/dev/null`.
    ///   - mergingStderr: stderr into the same file as stdout (`2>&1`, in the order written); the result's
    ///     `stderr` is then empty.
    ///   - timeout: how long it may take; after it, SIGKILL and ``ChildProcessError``. `nil`: no limit.
    /// - Throws: when it cannot start, did not end within `timeout`, or the task was cancelled (then
    ///   the child is killed).
    package static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, in directory: URL,
        stdin: String? = nil, mergingStderr: Bool = false, timeout: Duration? = nil
    ) async throws -> Result {
        let name = "run-\(UUID().uuidString)"
        let child = try ChildProcess(
            executable, arguments, environment: environment, in: directory,
            output: mergingStderr ? .log(name) : .files(name), stdin: stdin)
        defer {
            for path in [child.logPath, child.stdoutPath, child.stderrPath].compactMap({ $0 }) {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        let status: Int32
        if let timeout {
            guard let exited = await child.waitForExit(timeout: timeout) else {
                child.signal(SIGKILL)
                throw ChildProcessError(
                    "\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
            }
            status = exited
        } else {
            guard let exit = await child.exited() else {
                child.signal(SIGKILL)
                throw CancellationError()
            }
            status = exit.status
        }
        return mergingStderr
            ? Result(status: status, stdout: child.log, stderr: "")
            : Result(status: status, stdout: child.stdout, stderr: child.stderr)
    }
}

/// A child that could not be set up or did not finish in time.
package struct ChildProcessError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

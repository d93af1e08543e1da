import Foundation
import Logging
import Testing

@testable import MprefWorker

/// Shared helpers for the hook process tests: a runner, a scratch directory, process probes.
enum HookProcessTestSupport {
    /// Makes the test process a child subreaper once, as the daemon does at start.
    static let isSubreaper: Bool = HookProcessRunner.becomeSubreaper()

    static func runner() -> HookProcessRunner {
        _ = isSubreaper
        var logger = Logger(label: "mprefd.test.hooks")
        logger.logLevel = .critical
        return HookProcessRunner(logger: logger)
    }

    /// A small, exact environment for test hooks.
    static let environment: [String: String] = [
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/nonexistent",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
    ]

    static func invocation(
        _ command: String,
        environment: [String: String] = environment,
        standardInput: [UInt8] = [],
        timeout: Duration = .seconds(60),
        killGrace: Duration = .seconds(5)
    ) -> HookInvocation {
        HookInvocation(
            command: command,
            environment: environment,
            standardInput: standardInput,
            timeout: timeout,
            killGrace: killGrace
        )
    }

    /// A fresh directory under the system temp directory; removed by `removeScratch`.
    static func makeScratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("mprefd-hook-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func removeScratch(_ url: URL) {
        try? FileManager.default.removeItem(at: url)
    }

    /// Waits (up to `limit`) for a file the hook writes, e.g. a PID file; returns its trimmed text.
    static func readWhenPresent(_ url: URL, limit: Duration = .seconds(20)) async throws -> String? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOf: url, encoding: .utf8),
                !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            {
                return text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// The PID a hook wrote to `url`, once it is there.
    static func readPID(_ url: URL) async throws -> Int32? {
        try await readWhenPresent(url).flatMap { Int32($0) }
    }

    /// `true` when no process (not even a zombie) has this PID: `kill(pid, 0)` fails with ESRCH
    /// and `/proc/PID` is gone.
    static func processIsGone(_ pid: Int32) -> Bool {
        let killFailed = kill(pid, 0) == -1 && errno == ESRCH
        let procGone = !FileManager.default.fileExists(atPath: "/proc/\(pid)")
        return killFailed && procGone
    }

    /// The process's state letter from `/proc/PID/stat` (`Z` for a zombie), or `nil` when gone.
    static func processState(_ pid: Int32) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[close...].dropFirst(2).first
    }

    static func a(_ count: Int) -> String {
        String(repeating: "a", count: count)
    }
}

/// Collects the PIDs `onStart` reports.
final class HookStartRecorder: Sendable {
    private let pids = LockedBox<[Int32]>([])
    func record(_ pid: Int32) { pids.withLock { $0.append(pid) } }
    var recorded: [Int32] { pids.withLock { $0 } }
}

final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

import GRDBSQLite
import Synchronization

/// Counts, per SQL text, how often each statement ran and how many full-table-scan steps and VM
/// steps it took (`sqlite3_stmt_status`), on every SQLite connection this process opens afterwards
/// — the daemon's own connections included — without touching the product's code: an
/// auto-extension installs a profile trace on each new connection.
enum ScanProbe {
    struct Stat: Sendable {
        var executions = 0
        var fullScanSteps: Int64 = 0
        var vmSteps: Int64 = 0
    }

    static let stats = Mutex<[String: Stat]>([:])
    static let recording = Atomic<Bool>(false)

    /// Call before opening the database.
    static func install() {
        _ = sqlite3_auto_extension(unsafeBitCast(probeEntryPoint, to: (@convention(c) () -> Void).self))
    }

    static func start() {
        stats.withLock { $0 = [:] }
        recording.store(true, ordering: .sequentiallyConsistent)
    }

    static func stop() -> [String: Stat] {
        recording.store(false, ordering: .sequentiallyConsistent)
        return stats.withLock { $0 }
    }
}

private let probeEntryPoint: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeRawPointer?) -> Int32 = {
    db, _, _ in
    sqlite3_trace_v2(db, UInt32(SQLITE_TRACE_PROFILE), probeTrace, nil)
    return SQLITE_OK
}

private let probeTrace:
    @convention(c) (UInt32, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Int32 = {
        _, _, p, _ in
        guard let p else { return 0 }
        let statement = OpaquePointer(p)
        // Read and reset the counters on every execution, so a cached statement's counts are per run.
        let fullScan = Int64(sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1))
        let vm = Int64(sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_VM_STEP, 1))
        guard ScanProbe.recording.load(ordering: .relaxed), let text = sqlite3_sql(statement) else { return 0 }
        let sql = String(cString: text).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        ScanProbe.stats.withLock { stats in
            stats[sql, default: .init()].executions += 1
            stats[sql, default: .init()].fullScanSteps += fullScan
            stats[sql, default: .init()].vmSteps += vm
        }
        return 0
    }

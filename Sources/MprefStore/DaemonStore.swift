/// The daemon's view of the database (`MprefWorker`: the scheduler and recorder, the hook queue,
/// downloads, the heartbeat, retention, the WAL checkpointer, the deadlines of unconfigured
/// accounts, the stuck and expiry watches; and the daemon's callback listener).
///
/// Its queries are in the per-concern files (`TokenDatabase+Polling.swift`, `+Hooks`, `+Downloads`,
/// `+Exports`, `+Retention`, `+Checkpoint`, `+Daemon`, `+Unconfigured`, `+Callbacks`); it also reads
/// through ``SchedulingReads`` and ``WatchedExportReads``. Async methods suspend instead of
/// blocking a cooperative thread.
package struct DaemonStore: SchedulingReads, WatchedExportReads {
    package let database: TokenDatabase

    package init(_ database: TokenDatabase) {
        self.database = database
    }
}

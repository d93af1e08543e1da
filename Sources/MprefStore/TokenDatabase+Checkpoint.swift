import Foundation
import GRDB
import MprefCore

/// What one `wal_checkpoint(TRUNCATE)` attempt achieved.
package struct WALCheckpointResult: Sendable, Hashable {
    /// The checkpoint could not finish: another connection (typically a reader holding an old
    /// snapshot, e.g. an open `sqlite3` session inside `BEGIN … COMMIT`) kept it from copying every
    /// frame back or from restarting the WAL within the wait.
    package var isBlocked: Bool
    /// Frames in the WAL when the attempt ended (-1 when SQLite did not say).
    package var walFrames: Int
    /// Of those, frames copied back into the database file (-1 when SQLite did not say).
    package var checkpointedFrames: Int
}

extension DaemonStore {
    /// Tries `PRAGMA wal_checkpoint(TRUNCATE)` on the writer connection: copies every WAL frame into
    /// the database file and truncates the `-wal` file to zero bytes — which the automatic (PASSIVE)
    /// checkpoints never do, so a WAL that grew while a reader held an old snapshot stays large on
    /// disk until this runs.
    ///
    /// Waits at most `maxWait` seconds for other connections (the writer's busy timeout is lowered
    /// for this statement only and restored after), so daemon writes are held up at most that long.
    /// - Returns: whether it was blocked, and the frame counts SQLite reported.
    /// - Throws: `StoreError` when SQLite fails otherwise (e.g. an I/O error).
    package func checkpointWAL(maxWait: TimeInterval) async throws -> WALCheckpointResult {
        let waitMs = max(0, Int(saturating: maxWait * 1000))
        do {
            return try await database.writer.writeWithoutTransaction { db in
                let previous = try Int.fetchOne(db, sql: "PRAGMA busy_timeout") ?? 0
                try db.execute(sql: "PRAGMA busy_timeout = \(waitMs)")
                defer { try? db.execute(sql: "PRAGMA busy_timeout = \(previous)") }
                do {
                    guard let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") else {
                        return WALCheckpointResult(isBlocked: true, walFrames: -1, checkpointedFrames: -1)
                    }
                    let busy: Int = row["busy"], log: Int = row["log"], done: Int = row["checkpointed"]
                    return WALCheckpointResult(
                        isBlocked: busy != 0 || (log >= 0 && done < log), walFrames: log, checkpointedFrames: done)
                } catch let error as DatabaseError
                    where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED
                {
                    return WALCheckpointResult(isBlocked: true, walFrames: -1, checkpointedFrames: -1)
                }
            }
        } catch let error as DatabaseError {
            throw StoreError.from(error, path: database.path)
        }
    }
}

import Dispatch
import Foundation
import GRDB

/// The rows of the SQL statements in `sql` on the SQLite file at `path`, read in process: what
/// `sqlite3 -json -cmd '.timeout MS' FILE SQL` prints, as `JSONSerialization` parses it, without
/// starting a process. A test reads a daemon's database many times while it waits for a row; a
/// `sqlite3` process each time cost ~5 ms of CPU.
///
/// Values come as `JSONSerialization` gives them: integers and reals as `NSNumber` (so `as? Int`,
/// `as? Int64` and `as? Double` all work), text as `String`, NULL as `NSNull`. Where it differs from
/// the CLI: a real is the stored double (the CLI prints 15 significant digits), a blob is `Data`, and
/// the rows of several statements come as one array (the CLI prints one array per statement).
///
/// The connection is the one the `sqlite3` CLI opens: read-write (the file is created when missing),
/// no foreign-key enforcement, no transaction around the statement (a write commits at once), and
/// `busyTimeout` seconds of waiting for a lock (a reader right after a `kill -9` recovers the WAL,
/// which needs one). It is closed before the rows are returned, so it holds no lock or snapshot
/// afterwards. The statement runs on a thread of its own, not on the test's cooperative threads.
///
/// - Throws: GRDB's `DatabaseError` (e.g. a syntax error, `SQLITE_BUSY` past the timeout); statements
///   before the failing one have run (as with the CLI).
package func databaseRows(_ sql: String, in path: String, busyTimeout: TimeInterval = 10) async throws -> [[String:
    Any]]
{
    let result = ResultBox()
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        DispatchQueue.global().async {
            result.value = Result { try readRows(sql, in: path, busyTimeout: busyTimeout) }
            continuation.resume()
        }
    }
    return try result.value?.get() ?? []
}

private func readRows(_ sql: String, in path: String, busyTimeout: TimeInterval) throws -> [[String: Any]] {
    var configuration = Configuration()
    configuration.foreignKeysEnabled = false
    configuration.busyMode = .timeout(busyTimeout)
    let queue = try DatabaseQueue(path: path, configuration: configuration)
    defer { try? queue.close() }
    return try queue.inDatabase { db in
        var objects: [[String: Any]] = []
        let statements = try db.allStatements(sql: sql)
        while let statement = try statements.next() {
            for row in try Row.fetchAll(statement) {
                var object: [String: Any] = [:]
                for (column, value) in row {
                    object[column] = jsonValue(value)
                }
                objects.append(object)
            }
        }
        return objects
    }
}

private func jsonValue(_ value: DatabaseValue) -> Any {
    switch value.storage {
    case .null: NSNull()
    case .int64(let integer): NSNumber(value: integer)
    case .double(let real): NSNumber(value: real)
    case .string(let text): text
    case .blob(let data): data
    }
}

/// Carries the rows from the reading thread back to the caller, which reads it only after the
/// continuation has resumed.
private final class ResultBox: @unchecked Sendable {
    var value: Result<[[String: Any]], any Error>?
}

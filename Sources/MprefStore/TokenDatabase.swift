import Foundation
import GRDB
import GRDBSQLite
import Logging

/// The mprefd database: one SQLite file shared by the daemon, the admin commands and analysts'
/// `sqlite3` sessions.
///
/// Opened in WAL mode with foreign keys on and a busy timeout (default 10 s), so a writer holding
/// the lock for a few seconds makes others wait rather than fail. Writes are IMMEDIATE transactions
/// (GRDB's default for writes), so a read-then-write never fails with SQLITE_BUSY half-way.
/// No transaction is ever held across network I/O or a child process: every query is one short
/// transaction.
///
/// This is the opened file; its callers query it through their store (``StoreView``):
/// ``DaemonStore``, ``AdminStore``, ``ReportStore``.
package final class TokenDatabase: Sendable {
    /// How to open the file.
    package enum Mode: Sendable {
        /// Create the file (mode 0640) if missing and apply pending migrations.
        case readWrite
        /// Never create or alter anything; the schema must be current.
        case readOnly
    }

    /// The path as given.
    package let path: String
    package let mode: Mode
    /// The migration ids this open applied (empty when the schema was current, and for `.readOnly`).
    package let migrationsAppliedOnOpen: [String]
    let writer: any DatabaseWriter

    /// The default busy timeout: how long to wait for another process's write lock. 10 s.
    package static let defaultBusyTimeout: TimeInterval = 10

    /// Opens (and for `.readWrite` creates and migrates) the database at `path`.
    ///
    /// - Throws: `StoreError` `.sqliteTooOld` (the loaded SQLite library, ``SQLiteLibrary``),
    ///   `.directoryMissing`, `.databaseMissing` (read-only), `.schemaTooNew`, `.schemaTooOld`
    ///   (read-only), `.cannotOpen`, `.busy`.
    package init(path: String, mode: Mode, busyTimeout: TimeInterval = TokenDatabase.defaultBusyTimeout) throws {
        self.path = path
        self.mode = mode
        try SQLiteLibrary.requireSupported()
        let directory = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        if !directory.isEmpty,
            !(FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue)
        {
            throw StoreError(
                .directoryMissing,
                "database directory \(directory) does not exist; create it (e.g. `mkdir -p \(directory)`) or choose another path with --db"
            )
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw StoreError(
                .cannotOpen,
                "\(path) is a directory; --db names the database file, e.g. \((path as NSString).appendingPathComponent("mprefd.sqlite3"))"
            )
        }
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.foreignKeysEnabled = true
        config.label = "mprefd"
        do {
            switch mode {
            case .readOnly:
                guard FileManager.default.fileExists(atPath: path) else {
                    throw StoreError(
                        .databaseMissing,
                        "no database at \(path); the daemon or `mprefd add-token` creates it, or pass the right one with --db"
                    )
                }
                config.readonly = true
                let queue = try DatabaseQueue(path: path, configuration: config)
                try Migrator.requireCurrentSchema(queue)
                writer = queue
                migrationsAppliedOnOpen = []
            case .readWrite:
                // A database a newer mprefd made is refused before anything opens it for writing:
                // not even the WAL switch or the migration ledger may touch it.
                if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber,
                    size.int64Value > 0
                {
                    var probe = Configuration()
                    probe.readonly = true
                    probe.busyMode = .timeout(busyTimeout)
                    try Migrator.refuseNewerSchema(try DatabaseQueue(path: path, configuration: probe))
                }
                try Self.createFileIfMissing(path)
                config.prepareDatabase { db in
                    // A new file gets incremental auto-vacuum (it only takes effect before the first
                    // table exists; on an older file it changes nothing): retention's deletes can then
                    // give pages back to the file system (`PRAGMA incremental_vacuum`).
                    if !db.configuration.readonly {  // the pool's reader connections cannot write the header
                        try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
                    }
                    // Let the WAL be checkpointed by the writer often enough that it stays small.
                    try db.execute(sql: "PRAGMA wal_autocheckpoint = 1000")
                    // Keep the -wal and -shm files when the last connection closes: a reader with only
                    // group read access (sqlite3 -readonly) cannot create them, so without this an
                    // analyst could not open the database while the daemon is stopped.
                    var persist: Int32 = 1
                    _ = sqlite3_file_control(db.sqliteConnection, nil, SQLITE_FCNTL_PERSIST_WAL, &persist)
                }
                let pool = try DatabasePool(path: path, configuration: config)
                migrationsAppliedOnOpen = try Migrator.migrate(pool)
                writer = pool
            }
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw StoreError.from(error, path: path)
        }
    }

    /// Creates an empty file with mode 0640 (owner read-write, group read), whatever the umask,
    /// so analysts in the service's group can read it and nobody else can.
    private static func createFileIfMissing(_ path: String) throws {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o640)
        if fd >= 0 {
            _ = fchmod(fd, 0o640)
            close(fd)
        } else if errno != EEXIST {
            let reason = String(cString: strerror(errno))
            throw StoreError(
                .cannotOpen, "cannot create database \(path): \(reason); check the directory's owner and permissions")
        }
    }

    /// Runs `body` in one IMMEDIATE write transaction.
    ///
    /// Raw SQL for mpref-bench (seeding, measuring); the daemon and the commands go through their
    /// store (``DaemonStore``, ``AdminStore``, ``ReportStore``).
    package func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) throws -> T {
        do { return try writer.write(body) } catch let error as DatabaseError {
            throw StoreError.from(error, path: path)
        }
    }

    /// Runs `body` in one read transaction (a consistent snapshot). Raw SQL for mpref-bench, as
    /// ``write(_:)``.
    package func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) throws -> T {
        do { return try writer.read(body) } catch let error as DatabaseError {
            throw StoreError.from(error, path: path)
        }
    }

    /// ``write(_:)`` for async callers: suspends instead of blocking a cooperative thread.
    func asyncWrite<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await writer.write(body) } catch let error as DatabaseError {
            throw StoreError.from(error, path: path)
        }
    }

    /// ``read(_:)`` for async callers: suspends instead of blocking a cooperative thread.
    func asyncRead<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await writer.read(body) } catch let error as DatabaseError {
            throw StoreError.from(error, path: path)
        }
    }

    /// The ids of the migrations applied to this database, in order.
    package func appliedMigrations() throws -> [String] {
        try read { db in try Migrator.appliedIDs(db) }
    }

    /// Bytes on disk: the database file plus its `-wal` file.
    package func sizeOnDisk() -> (database: Int64, wal: Int64) {
        func size(_ p: String) -> Int64 {
            ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? NSNumber)?.int64Value ?? 0
        }
        return (size(path), size(path + "-wal"))
    }
}

extension StoreError {
    /// Maps an SQLite error to an operator-facing one.
    static func from(_ error: DatabaseError, path: String) -> StoreError {
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StoreError(
                .busy,
                "database \(path) is locked by another process for longer than the busy timeout; retry, or find the long transaction (e.g. an open sqlite3 session)"
            )
        case .SQLITE_READONLY:
            return StoreError(
                .cannotOpen,
                "database \(path) is read-only for this user; run commands that change it as the database's owner (e.g. `sudo -u mprefd mprefd …`)"
            )
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return StoreError(
                .corrupt,
                "\(path) is not an mprefd database or is damaged (\(error.message ?? "\(error.resultCode)")); check --db, or restore it from a backup"
            )
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            return StoreError(
                .cannotOpen,
                "cannot use database \(path): \(error.message ?? "\(error.resultCode)"); check the path, its owner and permissions"
            )
        default:
            return StoreError(.cannotOpen, "database \(path): \(error.message ?? "\(error.resultCode)")")
        }
    }
}

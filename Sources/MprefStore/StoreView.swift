import Foundation
import GRDB
import MprefCore

/// A caller's view of the one opened ``TokenDatabase``: the daemon holds a ``DaemonStore``, the admin
/// commands an ``AdminStore``, reporting (`status`, `wait`, the metrics scrape) a ``ReportStore``.
/// Each view offers only the queries its caller makes, so the compiler keeps a caller to its own.
///
/// A query more than one caller needs is written once, in one of the shared read protocols below,
/// and the views that may use it conform: ``TokenLookup`` (admin, reporting), ``SchedulingReads``
/// (daemon, admin) and ``WatchedExportReads`` (daemon, reporting).
package protocol StoreView: Sendable {
    /// The opened file (its path, mode, size on disk, migrations).
    var database: TokenDatabase { get }
}

extension StoreView {
    /// The database file's path, as opened.
    package var path: String { database.path }

    /// Bytes on disk: the database file plus its `-wal` file (``TokenDatabase/sizeOnDisk()``).
    package func sizeOnDisk() -> (database: Int64, wal: Int64) { database.sizeOnDisk() }
}

/// The transaction helpers and the SQL pieces shared by the views' queries (internal to MprefStore).
extension StoreView {
    func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) throws -> T {
        try database.read(body)
    }

    func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) throws -> T {
        try database.write(body)
    }

    func asyncRead<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await database.asyncRead(body)
    }

    func asyncWrite<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await database.asyncWrite(body)
    }
}

/// Token lookups for the admin commands and reporting: `list`, `status`, and resolving the access
/// tokens named on a command line (`show`, `wait`, `remove`…).
package protocol TokenLookup: StoreView {}

/// What the scheduler reads that an admin command shows too: the pauses in force (`list`) and a
/// segment's past durations (`--deadline auto`).
package protocol SchedulingReads: StoreView {}

/// The watching exports' expiry and stuck marks: the daemon's expiry and stuck watches act on them,
/// `status` shows them.
package protocol WatchedExportReads: StoreView {}

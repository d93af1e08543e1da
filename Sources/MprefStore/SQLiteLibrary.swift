import GRDBSQLite

/// The SQLite library this process loaded (the system's `libsqlite3`, through GRDB), checked before
/// any database is opened: an older library than the schema needs is refused with one line naming
/// SQLite, the version found and the minimum — never a later syntax error half-way through a
/// migration.
///
/// What sets the minimum: `STRICT` tables (every table since migration 0001) need SQLite 3.37.0.
/// ``TokenDatabase`` checks it before it opens a file, so the daemon and every admin command refuse
/// alike (exit 69).
package enum SQLiteLibrary {
    /// The version string of the loaded library, e.g. `3.40.1` (`sqlite3_libversion()`).
    package static var version: String { String(cString: sqlite3_libversion()) }

    /// The loaded library's version as `X * 1_000_000 + Y * 1_000 + Z` (`sqlite3_libversion_number()`).
    package static var versionNumber: Int32 { sqlite3_libversion_number() }

    /// The oldest SQLite the schema works with: 3.37.0 (`STRICT` tables).
    package static let minimumVersion = "3.37.0"
    package static let minimumVersionNumber: Int32 = 3_037_000

    /// Throws unless a library of `versionNumber` (default: the loaded one) is new enough.
    /// - Throws: `StoreError` `.sqliteTooOld`.
    package static func requireSupported(versionNumber: Int32 = versionNumber, version: String = version) throws {
        guard versionNumber >= minimumVersionNumber else {
            throw StoreError(
                .sqliteTooOld,
                "the SQLite library in use is \(version); mprefd needs SQLite \(minimumVersion) or newer (STRICT tables); install a newer libsqlite3 (Debian 12, Ubuntu 22.04 and later have one)"
            )
        }
    }
}

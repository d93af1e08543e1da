/// An error from the database layer, with a description safe to log and show to an operator.
package struct StoreError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, as a stable code.
    package enum Code: String, Sendable {
        /// The database's directory does not exist.
        case directoryMissing
        /// No database file at the path (read-only commands never create one).
        case databaseMissing
        /// The database has migrations this binary does not know: it was written by a newer mprefd.
        case schemaTooNew
        /// The database has migrations this binary knows but which are not applied yet (read-only open).
        case schemaTooOld
        /// SQLite refused to open or use the file (permissions, not a database, corrupt).
        case cannotOpen
        /// Another process holds the database's write lock for longer than the busy timeout.
        case busy
        /// A row the caller named does not exist.
        case notFound
        /// The file is not an SQLite database, or it is damaged.
        case corrupt
        /// The SQLite library this process loaded is older than the schema needs (``SQLiteLibrary``).
        case sqliteTooOld
    }

    package var code: Code
    /// One line for the operator: what, which value, and the fix.
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}

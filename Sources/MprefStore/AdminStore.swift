/// The admin commands' view of the database (`add-token`, `list`, `show`, `pause`/`resume`/`remove`,
/// `retry`, `hooks`, `export`, `cursors`, `download`, the account probe).
///
/// Its queries are in the per-concern files (`TokenDatabase+Admin.swift`, `+Exports`, `+Downloads`,
/// `+Hooks`, `+PauseLifts`, `TokenRowDefect.swift`); it also reads through ``TokenLookup`` and
/// ``SchedulingReads``. A change to the tokens bumps `admin_seq`, which the running daemon watches.
package struct AdminStore: TokenLookup, SchedulingReads {
    package let database: TokenDatabase

    package init(_ database: TokenDatabase) {
        self.database = database
    }
}

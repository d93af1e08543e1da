/// Reporting's view of the database: `mprefd status`, `mprefd wait` and the metrics scrape. Reads
/// only.
///
/// Its queries are in `TokenDatabase+Reporting.swift`, `+Unconfigured` and `TokenRowDefect.swift`; it
/// also reads through ``TokenLookup`` and ``WatchedExportReads``.
package struct ReportStore: TokenLookup, WatchedExportReads {
    package let database: TokenDatabase

    package init(_ database: TokenDatabase) {
        self.database = database
    }
}

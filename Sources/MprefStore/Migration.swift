import Foundation
import MprefCore
import GRDB

/// One schema migration: a file `migrations/NNNN_verb_noun.sql`, embedded in the binary at build
/// time (see `scripts/embed-migrations`). Applied once, in order, each in its own IMMEDIATE
/// transaction, and recorded in the `schema_migrations` table.
package struct Migration: Sendable, Hashable {
    /// The file name without `.sql`, e.g. `0001_create_tokens_and_polls`.
    package var id: String
    /// The SQL, verbatim from the file.
    package var sql: String

    /// The file starts with the line `-- mprefd-migration: foreign-keys-off`: it rebuilds a table
    /// that others reference, so it runs with foreign keys off (see `Migrator`).
    package var needsForeignKeysOff: Bool {
        sql.hasPrefix("-- mprefd-migration: foreign-keys-off\n")
    }
}

/// Applies migrations safely when several processes open the same new database at once (the daemon
/// and an admin command): each migration re-checks, inside its own write transaction, whether
/// another process applied it meanwhile.
package enum Migrator {
    static let ledgerSQL = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            id         TEXT PRIMARY KEY,
            applied_at TEXT NOT NULL
        ) STRICT
        """

    /// Applies every migration in `migrations` not yet recorded. Returns the ids applied now.
    ///
    /// - Throws: `StoreError.schemaTooNew` when the database records a migration not in `migrations`
    ///   (written by a newer mprefd); nothing is altered then. SQLite errors as `DatabaseError`.
    @discardableResult
    package static func migrate(_ writer: any DatabaseWriter, migrations: [Migration] = Migration.all) throws
        -> [String]
    {
        try writer.write { db in try db.execute(sql: ledgerSQL) }
        try refuseNewerSchema(writer, migrations: migrations)
        var applied: [String] = []
        for migration in migrations {
            let didApply =
                migration.needsForeignKeysOff
                ? try applyWithoutForeignKeys(migration, writer)
                : try writer.write { db -> Bool in try apply(migration, db) }
            if didApply { applied.append(migration.id) }
        }
        return applied
    }

    /// Applies `migration` inside the caller's transaction unless another process already did.
    private static func apply(_ migration: Migration, _ db: Database) throws -> Bool {
        let done =
            try Bool.fetchOne(db, sql: "SELECT 1 FROM schema_migrations WHERE id = ?", arguments: [migration.id])
            ?? false
        guard !done else { return false }
        try db.execute(sql: migration.sql)
        try db.execute(
            sql: "INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)",
            arguments: [migration.id, Timestamp.format(.now)])
        return true
    }

    /// A migration that rebuilds a table others reference: run with foreign keys off (`PRAGMA
    /// foreign_keys` has no effect inside a transaction, so it is set around it), then, before the
    /// commit, `PRAGMA foreign_key_check` must find no dangling reference. Step 1 and 10–12 of
    /// https://sqlite.org/lang_altertable.html#otheralter.
    private static func applyWithoutForeignKeys(_ migration: Migration, _ writer: any DatabaseWriter) throws -> Bool {
        try writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            defer { try? db.execute(sql: "PRAGMA foreign_keys = ON") }
            var didApply = false
            try db.inTransaction(.immediate) {
                didApply = try apply(migration, db)
                if didApply, let dangling = try Row.fetchOne(db, sql: "PRAGMA foreign_key_check") {
                    throw StoreError(
                        .corrupt,
                        "migration \(migration.id) found a dangling reference (\(dangling)); the database was not changed"
                    )
                }
                return .commit
            }
            return didApply
        }
    }

    /// The ids the database records as applied, in order; empty for a database mprefd never touched.
    package static func appliedIDs(_ db: Database) throws -> [String] {
        guard try db.tableExists("schema_migrations") else { return [] }
        return try String.fetchAll(db, sql: "SELECT id FROM schema_migrations ORDER BY id")
    }

    /// Throws `StoreError.schemaTooNew` when the database has a migration `migrations` lacks.
    package static func refuseNewerSchema(_ reader: any DatabaseReader, migrations: [Migration] = Migration.all) throws
    {
        let known = Set(migrations.map(\.id))
        let unknown = try reader.read { db in try appliedIDs(db) }.filter { !known.contains($0) }
        if let newest = unknown.last {
            throw StoreError(
                .schemaTooNew,
                "the database's schema is newer than this mprefd (it has migration \(newest)); upgrade mprefd, this binary will not alter it"
            )
        }
    }

    /// Throws `StoreError.schemaTooOld` when some of `migrations` are not applied (for read-only opens).
    package static func requireCurrentSchema(_ reader: any DatabaseReader, migrations: [Migration] = Migration.all)
        throws
    {
        try refuseNewerSchema(reader, migrations: migrations)
        let applied = Set(try reader.read { db in try appliedIDs(db) })
        if let missing = migrations.first(where: { !applied.contains($0.id) }) {
            throw StoreError(
                .schemaTooOld,
                "the database's schema is older than this mprefd (migration \(missing.id) is not applied); run `mprefd migrate` as the database's owner"
            )
        }
    }
}

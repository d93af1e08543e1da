import GRDB

/// One schema migration: a file `migrations/NNNN_verb_noun.sql`, embedded in the binary at build
/// time (see `scripts/embed-migrations`). Applied once, in order, each in its own IMMEDIATE
/// transaction, and recorded in the `schema_migrations` table.
package struct Migration: Sendable, Hashable {
    /// The file name without `.sql`, e.g. `0001_create_tokens_and_polls`.
    package var id: String
    /// The SQL, verbatim from the file.
    package var sql: String
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
    package static func migrate(_ writer: any DatabaseWriter, migrations: [Migration] = Migration.all) throws -> [String] {
        try writer.write { db in try db.execute(sql: ledgerSQL) }
        try refuseNewerSchema(writer, migrations: migrations)
        var applied: [String] = []
        for migration in migrations {
            let didApply = try writer.write { db -> Bool in
                let done = try Bool.fetchOne(db, sql: "SELECT 1 FROM schema_migrations WHERE id = ?", arguments: [migration.id]) ?? false
                guard !done else { return false }
                try db.execute(sql: migration.sql)
                try db.execute(
                    sql: "INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)",
                    arguments: [migration.id, Timestamp.format(.now)])
                return true
            }
            if didApply { applied.append(migration.id) }
        }
        return applied
    }

    /// The ids the database records as applied, in order; empty for a database mprefd never touched.
    package static func appliedIDs(_ db: Database) throws -> [String] {
        guard try db.tableExists("schema_migrations") else { return [] }
        return try String.fetchAll(db, sql: "SELECT id FROM schema_migrations ORDER BY id")
    }

    /// Throws `StoreError.schemaTooNew` when the database has a migration `migrations` lacks.
    package static func refuseNewerSchema(_ reader: any DatabaseReader, migrations: [Migration] = Migration.all) throws {
        let known = Set(migrations.map(\.id))
        let unknown = try reader.read { db in try appliedIDs(db) }.filter { !known.contains($0) }
        if let newest = unknown.last {
            throw StoreError(.schemaTooNew, "the database's schema is newer than this mprefd (it has migration \(newest)); upgrade mprefd, this binary will not alter it")
        }
    }

    /// Throws `StoreError.schemaTooOld` when some of `migrations` are not applied (for read-only opens).
    package static func requireCurrentSchema(_ reader: any DatabaseReader, migrations: [Migration] = Migration.all) throws {
        try refuseNewerSchema(reader, migrations: migrations)
        let applied = Set(try reader.read { db in try appliedIDs(db) })
        if let missing = migrations.first(where: { !applied.contains($0.id) }) {
            throw StoreError(.schemaTooOld, "the database's schema is older than this mprefd (migration \(missing.id) is not applied); run `mprefd migrate` as the database's owner")
        }
    }
}

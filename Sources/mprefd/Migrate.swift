import ArgumentParser
import Foundation
import MprefStore

/// `mprefd migrate`: create the database or bring its schema up to date.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create the database if missing and apply pending schema migrations.",
        discussion: """
            Safe to run while the daemon runs and to run twice (the second run applies nothing). \
            A database written by a newer mprefd is refused and left unchanged (exit 69).

            Examples:
              mprefd migrate
              mprefd migrate --db /var/lib/mprefd/mprefd.sqlite3 --json
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print {database, applied, migrations} as JSON; applied is null when it cannot be told which were pending.")
    var json = false

    func run() async throws {
        let configuration = try await global.loadConfiguration()
        let path = global.databaseLocation(configuration).path
        // What was applied before: a read-only open never alters anything.
        let before: [String]?
        if !FileManager.default.fileExists(atPath: path) {
            before = []
        } else {
            do {
                before = try TokenDatabase(path: path, mode: .readOnly).appliedMigrations()
            } catch let error as StoreError where error.code == .schemaTooOld {
                // Some are pending; the store does not say which were applied before.
                before = nil
            }
        }
        let database = try global.openDatabase(configuration, mode: .readWrite)
        let after = try database.appliedMigrations()
        let applied = before.map { old in after.filter { !old.contains($0) } }
        if json {
            try Output.json(MigrateJSON(database: database.path, applied: applied, migrations: after))
            return
        }
        switch applied {
        case .some(let ids) where ids.isEmpty:
            Output.line("schema is up to date; nothing to apply")
        case .some(let ids):
            Output.line("applied: " + ids.joined(separator: ", "))
        case .none:
            Output.line("applied the pending migrations")
        }
        Output.line("migrations: " + after.joined(separator: ", "))
    }
}

/// `mprefd migrate --json`.
struct MigrateJSON: Encodable {
    var database: String
    /// Ids applied by this run; `nil` when unknown.
    var applied: [String]?
    /// Every id now applied, in order.
    var migrations: [String]

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(database, forKey: .database)
        try container.encode(applied, forKey: .applied)
        try container.encode(migrations, forKey: .migrations)
    }

    enum CodingKeys: String, CodingKey { case database, applied, migrations }
}

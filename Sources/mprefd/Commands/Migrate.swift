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

    @Flag(help: "Print {database, applied, migrations} as JSON: the ids applied by this run, and every id now applied.")
    var json = false

    func run() async throws {
        let configuration = try await global.loadConfiguration()
        let database = try global.openDatabase(configuration, mode: .readWrite)
        let after = try database.appliedMigrations()
        let applied = database.migrationsAppliedOnOpen
        if json {
            try Output.json(MigrateJSON(database: database.path, applied: applied, migrations: after))
            return
        }
        if applied.isEmpty {
            Output.line("schema is up to date; nothing to apply")
        } else {
            Output.line("applied: " + applied.joined(separator: ", "))
        }
        Output.line("migrations: " + after.joined(separator: ", "))
    }
}

/// `mprefd migrate --json`.
struct MigrateJSON: Encodable {
    var database: String
    /// Ids applied by this run (empty when the schema was current).
    var applied: [String]
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

import ArgumentParser
import Foundation
import Logging
import MprefStore

/// Options every subcommand takes: where the config file and the database are.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The configuration file (YAML).",
            discussion:
                "Default: $MPREFD_CONFIG, then \(ConfigKeys.defaultConfigPath); a missing default file means no accounts and all defaults.",
            valueName: "path"))
    var config: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The SQLite database.",
            discussion:
                "Default: $MPREFD_DB, then the config's database.path (a relative one resolves against the config file's directory), then \(ConfigKeys.defaultDatabasePath). A relative --db or $MPREFD_DB resolves against the current directory.",
            valueName: "path"))
    var db: String?

    @Flag(
        name: .long,
        help: "Say on stderr which database file is used and where its path came from (also shown at log.level debug).")
    var verbose = false

    /// Where the configuration comes from: `--config`, `$MPREFD_CONFIG`, or the default path, and
    /// whether the operator named it (a missing named file is an error; a missing default is not).
    var configLocation: (path: String, isExplicit: Bool) {
        if let config { return (config, true) }
        if let fromEnvironment = ProcessInfo.processInfo.environment["MPREFD_CONFIG"], !fromEnvironment.isEmpty {
            return (fromEnvironment, true)
        }
        return (ConfigKeys.defaultConfigPath, false)
    }

    /// Loads and validates the configuration.
    ///
    /// - Throws: `MprefdError` exit 78 (see ``ConfigurationLoader/load(path:isExplicit:)``).
    /// - Parameter readingSecretFiles: Read `*_file` secrets (the daemon and `check-config`); admin
    ///   commands leave them unread, so users without access to the credentials can run them.
    func loadConfiguration(readingSecretFiles: Bool = false) async throws -> MprefdConfiguration {
        let location = configLocation
        let configuration = try await ConfigurationLoader(readsSecretFiles: readingSecretFiles).load(
            path: location.path, isExplicit: location.isExplicit)
        Output.useFormat(configuration.logFormat)
        return configuration
    }

    /// The database path, absolute, and where it came from (`nil` source = `--db`, said by the
    /// operator). A relative `--db` or `$MPREFD_DB` resolves against the current directory, a
    /// relative `database.path` against the config file's directory (``ConfigurationLoader``).
    func databaseLocation(_ configuration: MprefdConfiguration) -> (path: String, source: String?) {
        if let db { return (db.isEmpty ? db : ConfigurationLoader.absolute(db), nil) }
        if let fromEnvironment = ProcessInfo.processInfo.environment["MPREFD_DB"], !fromEnvironment.isEmpty {
            return (ConfigurationLoader.absolute(fromEnvironment), "$MPREFD_DB")
        }
        if let entry = configuration.entries.first(where: { $0.path == ["database", "path"] }),
            entry.source != .byDefault
        {
            return (configuration.databasePath, "database.path, \(entry.source.label)")
        }
        return (configuration.databasePath, "default path")
    }

    /// Opens the database; with `--verbose` or `log.level` debug (or trace), says on stderr which file
    /// it is when `--db` did not name it.
    ///
    /// - Parameter requireExisting: For `.readWrite`: refuse to create a missing file (commands that
    ///   change existing tokens have nothing to do on a new database).
    /// - Throws: `StoreError` (mapped to exit 69 or 75 by the root command).
    func openDatabase(_ configuration: MprefdConfiguration, mode: TokenDatabase.Mode, requireExisting: Bool = false)
        throws -> TokenDatabase
    {
        let location = databaseLocation(configuration)
        if let source = location.source, verbose || configuration.logLevel <= .debug {
            Output.note(
                "database: \(location.path) (\(source))", level: .debug,
                metadata: ["db.path": "\(location.path)", "db.source": "\(source)"])
        }
        let directory = (location.path as NSString).deletingLastPathComponent
        if requireExisting, directory.isEmpty || FileManager.default.fileExists(atPath: directory),
            !FileManager.default.fileExists(atPath: location.path)
        {
            throw StoreError(
                .databaseMissing,
                "no database at \(location.path); the daemon or `mprefd add-token` creates it, or pass the right one with --db"
            )
        }
        let timeout =
            Double(configuration.busyTimeout.components.seconds) + Double(
                configuration.busyTimeout.components.attoseconds) / 1e18
        return try TokenDatabase(path: location.path, mode: mode, busyTimeout: timeout)
    }
}

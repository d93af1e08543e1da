import ArgumentParser
import Foundation
import MprefWorker

/// `mprefd check-config`: validate and print the effective configuration.
struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration and print it as mprefd sees it, secrets redacted.",
        discussion: """
            Prints every key after MPREFD_* environment overrides, with where its value came \
            from (default, file, env VARIABLE). Secrets print as <redacted>. A bad key or \
            value is an error naming the key, the value and what is allowed (exit 78), and so \
            is an MPREFD_* override that names no key (the closest one is suggested), and a \
            metrics.listen address that cannot be listened on (in use by another process than \
            this database's running daemon, not an address of this machine).

            Examples:
              mprefd check-config
              MPREFD_POLLING_MAX_DELAY_S=60 mprefd check-config --config ./mprefd.yaml
              mprefd check-config --json | jq .polling
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print the configuration as a JSON object (values only).")
    var json = false

    func run() async throws {
        let configuration = try await global.loadConfiguration(readingSecretFiles: true)
        let database = global.databaseLocation(configuration)
        // metrics.listen: the address must be one `mprefd run` can listen on. In use is fine only
        // when the daemon of this database runs (it is the one listening).
        if let listen = configuration.metricsListen, let problem = MetricsEndpoint.bindProblem(listen),
           !(problem.isInUse && DaemonLock.holder(databasePath: database.path).isHeld) {
            throw MprefdError.configuration("metrics.listen \(listen) cannot be listened on: \(problem.reason); choose another HOST:PORT, or set metrics.listen: \"\" to turn metrics off")
        }
        if json {
            var root = ConfigRendering.tree(configuration.entries)
            root["config_file"] = configuration.filePath ?? NSNull()
            root["database_in_use"] = database.path
            let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            Output.line(String(decoding: data, as: UTF8.self))
            return
        }
        var lines = ["# config file: " + (configuration.filePath ?? "none (defaults and MPREFD_* environment only)")]
        lines.append("# database in use: \(database.path) (\(database.source ?? "--db"))")
        if configuration.accounts.isEmpty {
            lines.append("# no accounts: add-token accepts any valid --client-id")
        }
        lines.append(contentsOf: ConfigRendering.yamlLines(configuration.entries))
        Output.line(lines.joined(separator: "\n"))
    }
}

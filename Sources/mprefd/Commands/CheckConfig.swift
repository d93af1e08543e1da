import MprefCore
import ArgumentParser
import Foundation
import MprefStore
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

            With --probe it also sends one real status request per account and says whether \
            the host is reachable, the credentials are accepted and base_url/status_path lead \
            to the status resource. The access token asked for is --probe-token, else the \
            newest one of that client ID in the database, else 1 (a 404 for a token the \
            database does not know proves nothing about the path, and is reported so). Exit 0 \
            when every account is ok or unverified, 78 when one is misconfigured (credentials \
            refused, a 404 for a known token), else 69 when one is unreachable.

            Examples:
              mprefd check-config
              MPREFD_POLLING_MAX_DELAY_S=60 mprefd check-config --config ./mprefd.yaml
              mprefd check-config --json | jq .polling
              mprefd check-config --probe
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print the configuration as a JSON object (values only).")
    var json = false

    @Flag(help: "Also send one real status request per account: reachable? credentials accepted? path right?")
    var probe = false

    @Option(
        name: .customLong("probe-token"),
        help: ArgumentHelp(
            "The access token --probe asks for (default: the newest in the database, else 1).",
            valueName: "access-token"),
        transform: AccessToken.parseArgument)
    var probeToken: AccessToken?

    func validate() throws {
        if probeToken != nil, !probe { throw ValidationError("--probe-token goes with --probe") }
    }

    func run() async throws {
        let probeAccessToken = probeToken
        let configuration = try await global.loadConfiguration(readingSecretFiles: true)
        let database = global.databaseLocation(configuration)
        // metrics.listen: the address must be one `mprefd run` can listen on. In use is fine only
        // when the daemon of this database runs (it is the one listening).
        if let listen = configuration.metricsListen, let problem = MetricsEndpoint.bindProblem(listen),
            !(problem.isInUse && DaemonLock.holder(databasePath: database.path).isHeld)
        {
            throw MprefdError.configuration(
                "metrics.listen \(listen) cannot be listened on: \(problem.reason); choose another HOST:PORT, or set metrics.listen: \"\" to turn metrics off"
            )
        }
        if let callbacks = configuration.callbacks, let problem = MetricsEndpoint.bindProblem(callbacks.listen),
            !(problem.isInUse && DaemonLock.holder(databasePath: database.path).isHeld)
        {
            throw MprefdError.configuration(
                "callbacks.listen \(callbacks.listen) cannot be listened on: \(problem.reason); choose another HOST:PORT, or set callbacks.listen: \"\" to turn callbacks off"
            )
        }
        var verdicts: [AccountProbe.Verdict] = []
        if probe {
            let store = (try? TokenDatabase(path: database.path, mode: .readOnly)).map(AdminStore.init)
            verdicts = await AccountProbe.run(configuration, database: store, probeToken: probeAccessToken)
        }
        if json {
            var root = ConfigRendering.tree(configuration.entries)
            root["config_file"] = configuration.filePath ?? NSNull()
            root["database_in_use"] = database.path
            if probe {
                root["probe"] = verdicts.map { v -> [String: Any] in
                    [
                        "client_id": v.clientID.value, "access_token": v.accessToken.value, "result": v.result.rawValue,
                        "http_status": v.httpStatus.map { $0 as Any } ?? NSNull(), "detail": v.detail,
                    ]
                }
            }
            let data = try JSONSerialization.data(
                withJSONObject: root, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            Output.line(String(decoding: data, as: UTF8.self))
            try exitForProbe(verdicts)
            return
        }
        var lines = ["# config file: " + (configuration.filePath ?? "none (defaults and MPREFD_* environment only)")]
        lines.append("# database in use: \(database.path) (\(database.source ?? "--db"))")
        if configuration.accounts.isEmpty {
            lines.append("# no accounts: add-token accepts any valid --client-id")
        }
        lines.append(contentsOf: ConfigRendering.yamlLines(configuration.entries))
        if probe {
            lines.append(
                configuration.accounts.isEmpty
                    ? "# probe: no accounts to probe" : "# probe: one status request per account")
            lines.append(contentsOf: verdicts.map { "# " + $0.line })
        }
        Output.line(lines.joined(separator: "\n"))
        try exitForProbe(verdicts)
    }

    private func exitForProbe(_ verdicts: [AccountProbe.Verdict]) throws {
        let code = AccountProbe.exitCode(verdicts)
        guard code != ExitCode.success else { return }
        for verdict in verdicts where verdict.result == .misconfigured || verdict.result == .unreachable {
            Output.note("mprefd: error: " + verdict.line)
        }
        throw code
    }
}

import MprefCore
import Logging
import MyPreferences
import Synchronization

/// The HTTP client of one account, replaceable while the daemon runs: when an operator lifts the
/// account's pause (`mprefd resume --account`), presumably after fixing its credentials, the daemon
/// re-reads them and polls with a new client from then on.
///
/// A replaced client is kept (polls in flight may still use it) and shut down with the others at
/// the daemon's stop; replacements are operator actions, so they stay few.
package final class ReloadableSource: StatusSource, DownloadSource {
    private struct Clients {
        var current: MyPreferencesClient
        var retired: [MyPreferencesClient] = []
    }

    private let clients: Mutex<Clients>
    private let logger: Logger
    private let maxConnectionsPerHost: Int

    /// - Throws: ``ClientConfigurationError`` from `MyPreferencesClient`.
    package init(configuration: AccountConfiguration, logger: Logger, maxConnectionsPerHost: Int) throws {
        self.logger = logger
        self.maxConnectionsPerHost = maxConnectionsPerHost
        clients = Mutex(
            Clients(
                current: try MyPreferencesClient(
                    configuration: configuration, logger: logger, maxConnectionsPerHost: maxConnectionsPerHost)))
    }

    /// The account as the current client has it.
    package var configuration: AccountConfiguration { clients.withLock { $0.current.configuration } }

    package func status(of accessToken: AccessToken) async -> PollResult {
        await clients.withLock { $0.current }.status(of: accessToken)
    }

    package func pageBody(of accessToken: AccessToken, offset: Int64, limit: Int) async -> PageBodyResult {
        await clients.withLock { $0.current }.pageBody(of: accessToken, offset: offset, limit: limit)
    }

    package func commit(_ accessToken: AccessToken, keepFiles: Bool) async -> CommitResult {
        await clients.withLock { $0.current }.commit(accessToken, keepFiles: keepFiles)
    }

    /// Polls with `auth` from now on (everything else of the account stays as it is).
    /// - Throws: ``ClientConfigurationError`` when the new client cannot be made; the old one stays.
    package func replaceCredentials(with auth: Authentication) throws {
        var account = configuration
        account.auth = auth
        let client = try MyPreferencesClient(
            configuration: account, logger: logger, maxConnectionsPerHost: maxConnectionsPerHost)
        clients.withLock { c in
            c.retired.append(c.current)
            c.current = client
        }
    }

    /// Shuts every client down (current and replaced). Call once, after the last poll.
    package func shutdown() async {
        let all = clients.withLock { [$0.current] + $0.retired }
        for client in all { try? await client.shutdown() }
    }
}

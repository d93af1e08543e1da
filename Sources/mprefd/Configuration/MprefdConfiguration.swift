import MprefCore
import Logging
import MprefWorker
import MyPreferences

/// The effective configuration of mprefd: the config file's values, overridden by `MPREFD_*`
/// environment variables, defaulted and validated (see ``ConfigKeys`` for every key).
///
/// Built by ``ConfigurationLoader``; every value here has been checked.
struct MprefdConfiguration: Sendable {
    /// The config file read, or `nil` when there was none (the default path missing).
    var filePath: String?
    /// `database.path`. Default `/var/lib/mprefd/mprefd.sqlite3`; `--db` and `$MPREFD_DB` win over it.
    var databasePath: String = ConfigKeys.defaultDatabasePath
    /// `database.busy_timeout_s`: how long to wait for another process's write lock. Default 10 s.
    var busyTimeout: Duration = .seconds(10)
    /// `log.level`. Default `info`.
    var logLevel: Logger.Level = .info
    /// `log.format`. Default `logfmt`.
    var logFormat: LogFormat = .logfmt
    /// `polling.*`.
    var polling = PollingConfiguration()
    /// `hooks.*`.
    var hooks = HookConfiguration()
    /// `retention.*`: history and finished tokens the daemon prunes. Defaults 90 and 365 days.
    var retention = RetentionConfiguration()
    /// `metrics.listen`; `nil` = no metrics endpoint (the default).
    var metricsListen: ListenAddress?
    /// `callbacks.*`; `nil` = no callback listener and no `CallbackURL` sent (the default).
    var callbacks: CallbackConfiguration?
    /// `accounts.*`, keyed by MyPreferences client ID; empty when none are configured.
    var accounts: [ClientID: AccountConfiguration] = [:]
    /// `accounts.*.download`, keyed by client ID.
    var downloads: [ClientID: DownloadSettings] = [:]
    /// Every key with its effective value (secrets redacted) and where it came from, in
    /// documentation order, for `mprefd check-config`.
    var entries: [ConfigEntry] = []

    /// Client IDs of the configured accounts, sorted.
    var clientIDs: [ClientID] { accounts.keys.sorted() }

    /// Each configured account's host key (`scheme://host:port`, ``PollTarget/hostKey(of:)``: the
    /// subject of a host pause) by client ID as stored in rows (text), for matching rows and pauses.
    var accountHosts: [String: String] {
        Dictionary(uniqueKeysWithValues: accounts.map { ($0.key.value, PollTarget.hostKey(of: $0.value.baseURL)) })
    }

    /// The daemon's view: accounts, polling, hooks and the database path it actually uses.
    func workerConfiguration(databasePath: String) -> WorkerConfiguration {
        var polling = polling
        polling.callbackSafetyInterval = callbacks?.safetyInterval
        var worker = WorkerConfiguration(accounts: accounts, polling: polling, hooks: hooks, databasePath: databasePath)
        worker.retention = retention
        worker.downloads = downloads
        return worker
    }

    /// The client ID a command works on: `given` when it is allowed, else the only configured
    /// account.
    ///
    /// - Throws: `MprefdError` exit 64 when `given` is not a valid client ID, is not one of the
    ///   configured accounts (naming them), or is missing while zero or several accounts are configured.
    ///   With no accounts configured at all, any valid client ID is accepted.
    func resolveClientID(_ given: String?) throws -> ClientID {
        if let text = given {
            guard let given = ClientID(text) else {
                throw MprefdError.usage("bad client ID '\(text)': \(ClientID.rule)")
            }
            if !accounts.isEmpty, accounts[given] == nil {
                throw MprefdError.usage(
                    "client ID '\(given)' is not a configured account; configured: \(clientIDs.map(\.value).joined(separator: ", ")) (see `mprefd check-config`)"
                )
            }
            return given
        }
        switch accounts.count {
        case 1:
            return clientIDs[0]
        case 0:
            throw MprefdError.usage(
                "--client-id is required: no accounts are configured\(filePath.map { " in \($0)" } ?? " (no config file)")"
            )
        default:
            throw MprefdError.usage(
                "--client-id is required with several accounts configured: \(clientIDs.map(\.value).joined(separator: ", "))"
            )
        }
    }
}

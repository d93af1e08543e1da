import Configuration
import Foundation
import Logging
import MprefWorker
import MyPreferences
import MprefCore
import SystemPackage

/// Reads, overrides, defaults and validates the configuration.
///
/// Providers, highest priority first: environment variables `MPREFD_<KEY PATH>` (swift-configuration's
/// `EnvironmentVariablesProvider` behind a `KeyMappingProvider` that adds the `mprefd` prefix), then
/// the YAML file (`FileProvider<YAMLSnapshot>`), then the defaults in ``ConfigKeys``. The file is
/// first checked with Yams for unknown keys (``ConfigurationFile``).
struct ConfigurationLoader {
    /// The environment the `MPREFD_*` overrides and `$CREDENTIALS_DIRECTORY` are read from.
    var environment: [String: String]
    /// Whether `*_file` secrets are read. Only the daemon and `check-config` need them; admin
    /// commands run by users who cannot read the credentials (systemd's `LoadCredential=`) skip them.
    var readsSecretFiles: Bool

    init(environment: [String: String] = ProcessInfo.processInfo.environment, readsSecretFiles: Bool = true) {
        self.environment = environment
        self.readsSecretFiles = readsSecretFiles
    }

    /// Loads the configuration from the file at `path`.
    ///
    /// - Parameters:
    ///   - path: The config file.
    ///   - isExplicit: Whether the operator named the file (`--config`, `$MPREFD_CONFIG`). A missing
    ///     default file means "no file": defaults and environment only, zero accounts.
    /// - Throws: `MprefdError` with exit 78 naming the key, the value (never a secret) and what is
    ///   allowed; for a missing explicit file, an unreadable file or secret file, unknown keys in
    ///   the file or in `MPREFD_*` overrides (``ConfigEnvironmentCheck``).
    func load(path: String, isExplicit: Bool) async throws -> MprefdConfiguration {
        var file: ConfigurationFile?
        if FileManager.default.fileExists(atPath: path) {
            file = try ConfigurationFile(path: path)
        } else if isExplicit {
            throw MprefdError.configuration(
                "config file \(path) does not exist; pass an existing file with --config (or $MPREFD_CONFIG), or leave both unset to run without accounts"
            )
        }

        if let unknown = ConfigEnvironmentCheck.unknownOverride(
            in: environment, accountIDs: (file?.accountIDs ?? []).map(\.value))
        {
            throw unknown
        }
        let environmentProvider = EnvironmentVariablesProvider(
            environmentVariables: environment,
            secretsSpecifier: .dynamic { name, _ in name.hasSuffix("SECRET") },
            // Hook commands often contain commas; one command per line instead.
            arraySeparator: "\n"
        )
        var providers: [any ConfigProvider] = [
            KeyMappingProvider(upstream: environmentProvider) { key in
                key.prepending([ConfigKeys.environmentPrefix.lowercased()])
            }
        ]
        if let file, !file.isEmpty {
            do {
                providers.append(
                    try await FileProvider<YAMLSnapshot>(
                        parsingOptions: .init(secretsSpecifier: .dynamic { key, _ in key.hasSuffix("secret") }),
                        filePath: .init(path)))
            } catch {
                throw MprefdError.configuration("config file \(path) cannot be read: \(error)")
            }
        }
        var values = ConfigValueReader(
            reader: ConfigReader(providers: providers),
            filePath: file?.path,
            fileValuePaths: file?.valuePaths ?? [],
            environment: environment)

        var configuration = MprefdConfiguration()
        configuration.filePath = file?.path
        // Relative paths in the file (database.path, secret_file) resolve against its directory,
        // made absolute, so that every command and every hook sees the same files wherever it runs.
        let configDirectory = file.map { Self.absolute(($0.path as NSString).deletingLastPathComponent) }
        try readDatabaseAndLog(&values, into: &configuration, configDirectory: configDirectory)
        try readPolling(&values, into: &configuration)
        try readHooks(&values, into: &configuration)
        configuration.retention.historyDays = try values.read(["retention"], ConfigKeys.Retention.historyDays)
        configuration.retention.finishedTokensDays = try values.read(
            ["retention"], ConfigKeys.Retention.finishedTokensDays)
        let listen = try values.read(["metrics"], ConfigKeys.Metrics.listen)
        if !listen.isEmpty {
            guard let address = ListenAddress(listen) else {
                throw values.failure(
                    ["metrics", "listen"], listen,
                    allowed: "\"\" (off), HOST:PORT such as 127.0.0.1:9464, or :PORT (loopback)")
            }
            configuration.metricsListen = address
        }
        configuration.callbacks = try readCallbacks(&values)
        for clientID in file?.accountIDs ?? [] {
            configuration.accounts[clientID] = try readAccount(clientID, &values, configDirectory: configDirectory)
            configuration.downloads[clientID] = try readDownload(
                ["accounts", clientID.value, "download"], &values, configDirectory: configDirectory)
        }
        configuration.entries = values.entries
        return configuration
    }

    /// `path` made absolute against the current directory (`""` is the current directory), with
    /// `.` and `..` components removed; symlinks are kept.
    static func absolute(_ path: String, against base: String? = nil) -> String {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path).standardized.path }
        let directory = base ?? FileManager.default.currentDirectoryPath
        return URL(
            fileURLWithPath: path.isEmpty ? "." : path, relativeTo: URL(fileURLWithPath: directory, isDirectory: true)
        ).standardized.path
    }

    private func readDatabaseAndLog(
        _ values: inout ConfigValueReader, into configuration: inout MprefdConfiguration, configDirectory: String?
    ) throws {
        typealias K = ConfigKeys.Database
        let given = try values.read(["database"], K.path)
        guard !given.isEmpty else {
            throw values.failure(
                ["database", "path"], given, allowed: "a file path, e.g. \(ConfigKeys.defaultDatabasePath)")
        }
        // Relative: against the config file's directory (or the current one without a file).
        let path = Self.absolute(given, against: configDirectory)
        if path != given, let index = values.entries.lastIndex(where: { $0.path == ["database", "path"] }) {
            values.entries[index].value = .text(path)
        }
        configuration.databasePath = path
        configuration.busyTimeout = .seconds(try values.read(["database"], K.busyTimeout))
        configuration.logLevel = Logger.Level(rawValue: try values.read(["log"], ConfigKeys.Log.level)) ?? .info
        configuration.logFormat = LogFormat(rawValue: try values.read(["log"], ConfigKeys.Log.format)) ?? .logfmt
    }

    private func readPolling(_ values: inout ConfigValueReader, into configuration: inout MprefdConfiguration) throws {
        var p = PollingConfiguration()
        typealias K = ConfigKeys.Polling
        let section = ["polling"]
        let initial = try values.read(section, K.initialDelay)
        p.initialDelay = .seconds(initial)
        p.maxDelay = .seconds(
            try values.read(
                section,
                K.maxDelay.bounded("seconds >= polling.initial_delay_s (\(ConfigValueReader.format(initial)))") {
                    $0 >= initial
                }))
        p.multiplier = try values.read(section, K.multiplier)
        let deadline = try values.read(section, K.deadline)
        p.deadline = deadline == 0 ? nil : .seconds(deadline)
        p.maxRetryAfter = .seconds(try values.read(section, K.maxRetryAfter))
        p.pauseJitter = .seconds(try values.read(section, K.pauseJitter))
        p.maxInFlight = try values.read(section, K.maxInFlight)
        p.maxRequestsPerSecondPerHost = try values.read(section, K.maxRequestsPerSecondPerHost)
        p.notFoundLimit = try values.read(section, K.notFoundLimit)
        p.authPause = .seconds(try values.read(section, K.authPause))
        p.shutdownGrace = .seconds(try values.read(section, K.shutdownGrace))
        p.stuckFactor = try values.read(section, K.stuckFactor)
        p.scheduleEffort = try values.read(section, K.scheduleEffort)
        configuration.polling = p
    }

    private func readHooks(_ values: inout ConfigValueReader, into configuration: inout MprefdConfiguration) throws {
        var h = HookConfiguration()
        typealias K = ConfigKeys.Hooks
        let section = ["hooks"]
        h.onComplete = try values.read(section, K.onComplete)
        h.onFailure = try values.read(section, K.onFailure)
        h.onExpired = try values.read(section, K.onExpired)
        h.onRetrieved = try values.read(section, K.onRetrieved)
        h.onStuck = try values.read(section, K.onStuck)
        h.timeout = .seconds(try values.read(section, K.timeout))
        h.killGrace = .seconds(try values.read(section, K.killGrace))
        h.maxAttempts = try values.read(section, K.maxAttempts)
        let retryInitial = try values.read(section, K.retryInitialDelay)
        h.retryInitialDelay = .seconds(retryInitial)
        h.retryMaxDelay = .seconds(
            try values.read(
                section,
                K.retryMaxDelay.bounded(
                    "seconds >= hooks.retry_initial_delay_s (\(ConfigValueReader.format(retryInitial)))"
                ) { $0 >= retryInitial }))
        h.concurrency = try values.read(section, K.concurrency)
        configuration.hooks = h
    }

    private func readAccount(_ clientID: ClientID, _ values: inout ConfigValueReader, configDirectory: String?) throws
        -> AccountConfiguration
    {
        typealias K = ConfigKeys.Account
        let key = ["accounts", clientID.value]
        let baseURL = try values.read(key, K.baseURL)
        let allowInsecureHTTP = try values.read(key, K.allowInsecureHTTP)
        if let problem = URLCheck.problem(
            baseURL, allowInsecureHTTP: allowInsecureHTTP,
            insecureKey: (key + ["allow_insecure_http"]).joined(separator: "."))
        {
            throw values.failure(key + ["base_url"], URLCheck.redacted(baseURL), allowed: problem)
        }
        let statusPath = try values.read(key, K.statusPath)
        if let unknown = StatusURL.unknownPlaceholders(in: statusPath).first {
            throw values.failure(
                key + ["status_path"], statusPath,
                allowed:
                    "a path template whose only placeholders are {clientId} and {accessToken}, spelled exactly so (\(unknown) would be sent literally), e.g. \(AccountConfiguration.defaultStatusPath)"
            )
        }
        guard statusPath.contains("{accessToken}"), !statusPath.contains("?"), !statusPath.contains("#") else {
            throw values.failure(
                key + ["status_path"], statusPath,
                allowed:
                    "a path template containing {accessToken} (and usually {clientId}), without '?' or '#', e.g. \(AccountConfiguration.defaultStatusPath)"
            )
        }
        let accept = try values.read(key, K.accept)
        let connectTimeout = try values.read(key, K.connectTimeout)
        let longerThanConnect =
            "seconds > \(key.joined(separator: ".")).connect_timeout_s (\(ConfigValueReader.format(connectTimeout)))"
        // AsyncHTTPClient retries a failed connection (refused, TLS) until the connect timeout; a
        // request deadline at or below it would report every such failure as a plain timeout.
        let requestTimeout = try values.read(key, K.requestTimeout.bounded(longerThanConnect) { $0 > connectTimeout })
        let maxBodyBytes = try values.read(key, K.maxBodyBytes)
        let retrievePath = try pathTemplate(key, K.retrievePath, &values)
        let commitPath = try pathTemplate(key, K.commitPath, &values)
        let initiatePath = try values.read(key, K.initiatePath)
        let initiateRule =
            "a path template containing {segmentName} (and usually {clientId}), no other placeholder, without '?' or '#', e.g. \(AccountConfiguration.defaultInitiatePath)"
        if let unknown = StatusURL.unknownPlaceholders(
            in: initiatePath.replacingOccurrences(of: "{segmentName}", with: "")
        ).first
            ?? (initiatePath.contains("{accessToken}") ? "{accessToken}" : nil)
        {
            throw values.failure(
                key + ["initiate_path"], initiatePath, allowed: "\(initiateRule) (\(unknown) would be sent literally)")
        }
        guard initiatePath.contains("{segmentName}"), !initiatePath.contains("?"), !initiatePath.contains("#") else {
            throw values.failure(key + ["initiate_path"], initiatePath, allowed: initiateRule)
        }
        let auth = try readAuthentication(
            key + ["auth"], &values, allowInsecureHTTP: allowInsecureHTTP, configDirectory: configDirectory)
        // Read last, so that check-config prints them inside the one `download:` block that follows.
        let maxPageBytes = try values.read(key + ["download"], ConfigKeys.Download.maxPageBytes)
        let pageTimeout = try values.read(
            key + ["download"], ConfigKeys.Download.pageTimeout.bounded(longerThanConnect) { $0 > connectTimeout })
        return AccountConfiguration(
            clientID: clientID, baseURL: baseURL, statusPath: statusPath,
            accept: AccountConfiguration.MediaType(rawValue: accept) ?? .json,
            connectTimeout: .seconds(connectTimeout), requestTimeout: .seconds(requestTimeout),
            maxBodyBytes: maxBodyBytes, allowInsecureHTTP: allowInsecureHTTP, auth: auth,
            retrievePath: retrievePath, commitPath: commitPath, maxPageBytes: maxPageBytes,
            pageTimeout: .seconds(pageTimeout),
            initiatePath: initiatePath)
    }

    /// `callbacks.*`: `nil` when `listen` is empty (then `public_url` must be empty too).
    private func readCallbacks(_ values: inout ConfigValueReader) throws -> CallbackConfiguration? {
        typealias K = ConfigKeys.Callbacks
        let section = ["callbacks"]
        let listen = try values.read(section, K.listen)
        let publicURL = try values.read(section, K.publicURL)
        let rate = try values.read(section, K.ratePerSourcePerSecond)
        let burst = try values.read(section, K.burstPerSource)
        let safety = try values.read(section, K.safetyInterval)
        guard !listen.isEmpty else {
            guard publicURL.isEmpty else {
                throw values.failure(
                    ["callbacks", "public_url"], URLCheck.redacted(publicURL),
                    allowed:
                        "\"\" while callbacks.listen is \"\" (nothing would receive the callbacks); set callbacks.listen too, e.g. 127.0.0.1:9465"
                )
            }
            return nil
        }
        guard let address = ListenAddress(listen) else {
            throw values.failure(
                ["callbacks", "listen"], listen,
                allowed: "\"\" (off), HOST:PORT such as 127.0.0.1:9465, or :PORT (loopback)")
        }
        guard !publicURL.isEmpty else {
            throw values.failure(
                ["callbacks", "public_url"], publicURL,
                allowed:
                    "the https URL your reverse proxy exposes for the listener, e.g. https://etl.example.com/mprefd/callback (required with callbacks.listen)"
            )
        }
        if let problem = CallbackConfiguration.publicURLProblem(publicURL) {
            throw values.failure(["callbacks", "public_url"], URLCheck.redacted(publicURL), allowed: problem)
        }
        return CallbackConfiguration(
            listen: address, publicURL: publicURL, ratePerSourcePerSecond: rate, burstPerSource: burst,
            safetyInterval: safety == 0 ? nil : .seconds(safety))
    }

    /// A retrieve or commit path template: only `{clientId}` and `{accessToken}`, the latter required, no query.
    private func pathTemplate(
        _ account: [String], _ definition: ConfigKeys.Key<String>, _ values: inout ConfigValueReader
    ) throws -> String {
        let template = try values.read(account, definition)
        let key = account + [definition.name]
        let defaultValue = definition.defaultValue
        if let unknown = StatusURL.unknownPlaceholders(in: template).first {
            throw values.failure(
                key, template,
                allowed:
                    "a path template whose only placeholders are {clientId} and {accessToken}, spelled exactly so (\(unknown) would be sent literally), e.g. \(defaultValue)"
            )
        }
        guard template.contains("{accessToken}"), !template.contains("?"), !template.contains("#") else {
            throw values.failure(
                key, template,
                allowed:
                    "a path template containing {accessToken} (and usually {clientId}), without '?' or '#', e.g. \(defaultValue)"
            )
        }
        return template
    }

    /// `accounts.<ID>.download`: whether and how the account's completed exports are downloaded.
    private func readDownload(_ key: [String], _ values: inout ConfigValueReader, configDirectory: String?) throws
        -> DownloadSettings
    {
        var d = DownloadSettings()
        typealias K = ConfigKeys.Download
        d.enabled = try values.read(key, K.enabled)
        let directory = try values.read(key, K.directory)
        guard !directory.isEmpty, !directory.contains("\u{0}") else {
            throw values.failure(
                key + ["directory"], directory,
                allowed: "a directory path (relative paths resolve against the config file's directory)")
        }
        d.directory = Self.absolute(directory, against: configDirectory)
        d.pageSize = try values.read(key, K.pageSize)
        d.keepFiles = try values.read(key, K.keepFiles)
        d.retentionDays = try values.read(key, K.retentionDays)
        d.strictCounts = try values.read(key, K.verifyCounts) == "strict"
        d.maxAttempts = try values.read(key, K.maxAttempts)
        d.diskRetry = .seconds(try values.read(key, K.diskRetry))
        return d
    }

    private func readAuthentication(
        _ key: [String], _ values: inout ConfigValueReader, allowInsecureHTTP: Bool, configDirectory: String?
    ) throws -> Authentication {
        typealias K = ConfigKeys.Auth
        let scheme = try values.read(key, K.scheme)
        let userID = values.read(key, K.userID)
        let secret = try readSecret(key, K.secret, K.secretFile, &values, configDirectory: configDirectory)
        let tokenURL = values.read(key, K.tokenURL)
        let oauthClientID = values.read(key, K.clientID)
        let clientSecret = try readSecret(
            key, K.clientSecret, K.clientSecretFile, &values, configDirectory: configDirectory)
        let dotted = key.joined(separator: ".")

        func forbid(_ name: String, _ isSet: Bool) throws {
            if isSet {
                throw MprefdError.configuration(
                    "\(dotted).\(name) is set but \(dotted).scheme is \(scheme); remove it, or set the scheme that uses it (user_id: pnauthinfo3, oauth; secret: pnauthinfo3; token_url, client_id, client_secret: oauth)"
                )
            }
        }
        func require<T>(_ name: String, _ value: T?) throws -> T {
            guard let value else {
                throw MprefdError.configuration("\(dotted).\(name) is required with \(dotted).scheme \(scheme)")
            }
            return value
        }
        switch scheme {
        case "pnauthinfo3":
            try forbid("token_url", tokenURL != nil)
            try forbid("client_id", oauthClientID != nil)
            try forbid("client_secret", clientSecret != nil)
            return .pnauthinfo3(
                userID: try require("user_id", userID), secret: try require("secret (or secret_file)", secret))
        case "oauth":
            try forbid("secret", secret != nil)
            let tokenURL = try require("token_url", tokenURL)
            if let problem = URLCheck.problem(
                tokenURL, allowInsecureHTTP: allowInsecureHTTP,
                insecureKey: (key.dropLast() + ["allow_insecure_http"]).joined(separator: "."))
            {
                throw values.failure(key + ["token_url"], URLCheck.redacted(tokenURL), allowed: problem)
            }
            return .oauth(
                tokenURL: tokenURL, oauthClientID: try require("client_id", oauthClientID),
                oauthClientSecret: try require("client_secret (or client_secret_file)", clientSecret),
                userID: try require("user_id", userID))
        default:
            try forbid("user_id", userID != nil)
            try forbid("secret", secret != nil)
            try forbid("token_url", tokenURL != nil)
            try forbid("client_id", oauthClientID != nil)
            try forbid("client_secret", clientSecret != nil)
            return .none
        }
    }

    /// Reads `NAME` or `NAME_file` under `key`; exactly one may be set.
    private func readSecret(
        _ key: [String], _ secret: ConfigKeys.Key<String?>, _ file: ConfigKeys.Key<String?>,
        _ values: inout ConfigValueReader, configDirectory: String?
    ) throws -> Secret? {
        let name = secret.name
        let inline = values.read(key, secret)
        let fileKey = key + [file.name]
        guard let given = values.read(key, file, record: false) else {
            return inline.map(Secret.init)
        }
        let dotted = key.joined(separator: ".")
        if inline != nil {
            throw MprefdError.configuration(
                "both \(dotted).\(name) and \(dotted).\(file.name) are set; keep one (prefer \(file.name))")
        }
        let resolved: String
        if given.hasPrefix("/") {
            resolved = given
        } else if let credentials = environment["CREDENTIALS_DIRECTORY"], !credentials.isEmpty {
            resolved = (credentials as NSString).appendingPathComponent(given)
        } else {
            resolved = Self.absolute(given, against: configDirectory)
        }
        values.record(fileKey, .text(resolved))
        guard readsSecretFiles else {
            return Secret("")
        }
        guard let data = FileManager.default.contents(atPath: resolved) else {
            let reason =
                FileManager.default.fileExists(atPath: resolved)
                ? "it is not readable by this user" : "it does not exist"
            throw MprefdError.configuration(
                "\(fileKey.joined(separator: ".")) names \(resolved), but \(reason); fix the path (relative paths resolve against $CREDENTIALS_DIRECTORY when set, else the config file's directory) or its permissions"
            )
        }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
        guard !text.isEmpty else {
            throw MprefdError.configuration(
                "\(fileKey.joined(separator: ".")) names \(resolved), which is empty; put the secret in it")
        }
        values.entries.append(ConfigEntry(path: key + [name], value: .redacted, source: .secretFile(file.name)))
        return Secret(text)
    }
}

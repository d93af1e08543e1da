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
            throw MprefdError.configuration("config file \(path) does not exist; pass an existing file with --config (or $MPREFD_CONFIG), or leave both unset to run without accounts")
        }

        if let unknown = ConfigEnvironmentCheck.unknownOverride(in: environment, accountIDs: file?.accountIDs ?? []) {
            throw unknown
        }
        let environmentProvider = EnvironmentVariablesProvider(
            environmentVariables: environment,
            secretsSpecifier: .dynamic { name, _ in name.hasSuffix("SECRET") },
            // Hook commands often contain commas; one command per line instead.
            arraySeparator: "\n"
        )
        var providers: [any ConfigProvider] = [
            KeyMappingProvider(upstream: environmentProvider) { key in key.prepending([ConfigKeys.environmentPrefix.lowercased()]) }
        ]
        if let file, !file.isEmpty {
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(
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
        let days = "an integer 0..36500 (days; 0 = keep forever)"
        configuration.retention.historyDays = try values.integer(["retention", "history_days"], default: 90, allowed: days) { (0...36_500).contains($0) }
        configuration.retention.finishedTokensDays = try values.integer(["retention", "finished_tokens_days"], default: 365, allowed: days) { (0...36_500).contains($0) }
        let listen = values.text(["metrics", "listen"], default: "")
        if !listen.isEmpty {
            guard let address = ListenAddress(listen) else {
                throw values.failure(["metrics", "listen"], listen, allowed: "\"\" (off), HOST:PORT such as 127.0.0.1:9464, or :PORT (loopback)")
            }
            configuration.metricsListen = address
        }
        configuration.callbacks = try readCallbacks(&values)
        for clientID in file?.accountIDs ?? [] {
            configuration.accounts[clientID] = try readAccount(clientID, &values, configDirectory: configDirectory)
            configuration.downloads[clientID] = try readDownload(["accounts", clientID, "download"], &values, configDirectory: configDirectory)
        }
        configuration.entries = values.entries
        return configuration
    }

    /// `path` made absolute against the current directory (`""` is the current directory), with
    /// `.` and `..` components removed; symlinks are kept.
    static func absolute(_ path: String, against base: String? = nil) -> String {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path).standardized.path }
        let directory = base ?? FileManager.default.currentDirectoryPath
        return URL(fileURLWithPath: path.isEmpty ? "." : path, relativeTo: URL(fileURLWithPath: directory, isDirectory: true)).standardized.path
    }

    private func readDatabaseAndLog(_ values: inout ConfigValueReader, into configuration: inout MprefdConfiguration, configDirectory: String?) throws {
        let given = values.text(["database", "path"], default: ConfigKeys.defaultDatabasePath)
        guard !given.isEmpty else { throw values.failure(["database", "path"], given, allowed: "a file path, e.g. \(ConfigKeys.defaultDatabasePath)") }
        // Relative: against the config file's directory (or the current one without a file).
        let path = Self.absolute(given, against: configDirectory)
        if path != given, let index = values.entries.lastIndex(where: { $0.path == ["database", "path"] }) {
            values.entries[index].value = .text(path)
        }
        configuration.databasePath = path
        configuration.busyTimeout = .seconds(try values.seconds(["database", "busy_timeout_s"], default: 10, allowed: "seconds >= 1") { $0 >= 1 })
        let levels = Logger.Level.allCases.map(\.rawValue)
        let level = try values.choice(["log", "level"], default: "info", from: levels)
        configuration.logLevel = Logger.Level(rawValue: level) ?? .info
        let format = try values.choice(["log", "format"], default: "logfmt", from: LogFormat.allCases.map(\.rawValue))
        configuration.logFormat = LogFormat(rawValue: format) ?? .logfmt
    }

    private func readPolling(_ values: inout ConfigValueReader, into configuration: inout MprefdConfiguration) throws {
        var p = PollingConfiguration()
        let initial = try values.seconds(["polling", "initial_delay_s"], default: 10, allowed: "seconds > 0") { $0 > 0 }
        p.initialDelay = .seconds(initial)
        p.maxDelay = .seconds(try values.seconds(["polling", "max_delay_s"], default: 300, allowed: "seconds >= polling.initial_delay_s (\(ConfigValueReader.format(initial)))") { $0 >= initial })
        p.multiplier = try values.number(["polling", "multiplier"], default: 2, allowed: "a number >= 1") { $0 >= 1 }
        let deadline = try values.seconds(["polling", "deadline_s"], default: 86_400, allowed: "seconds >= 0 (0 = no deadline)") { $0 >= 0 }
        p.deadline = deadline == 0 ? nil : .seconds(deadline)
        p.maxRetryAfter = .seconds(try values.seconds(["polling", "max_retry_after_s"], default: 3600, allowed: "seconds > 0") { $0 > 0 })
        p.pauseJitter = .seconds(try values.seconds(["polling", "pause_jitter_s"], default: 2, allowed: "seconds >= 0") { $0 >= 0 })
        p.maxInFlight = try values.integer(["polling", "max_in_flight"], default: 64, allowed: "an integer 1..10000") { (1...10_000).contains($0) }
        p.maxRequestsPerSecondPerHost = try values.number(["polling", "max_requests_per_second_per_host"], default: 50, allowed: "a number > 0") { $0 > 0 }
        p.notFoundLimit = try values.integer(["polling", "not_found_limit"], default: 3, allowed: "an integer >= 1") { $0 >= 1 }
        p.authPause = .seconds(try values.seconds(["polling", "auth_pause_s"], default: 900, allowed: "seconds > 0") { $0 > 0 })
        p.shutdownGrace = .seconds(try values.seconds(["polling", "shutdown_grace_s"], default: 10, allowed: "seconds >= 0") { $0 >= 0 })
        p.stuckFactor = try values.number(["polling", "stuck_factor"], default: 3, allowed: "0 (off) or a number 1..1000 (times the segment's 95th-percentile duration)") {
            $0 == 0 || (1...1000).contains($0)
        }
        p.scheduleEffort = try values.number(["polling", "schedule_effort"], default: 0.9, allowed: "0 (off) or a number 0.05..20 (polls relative to the backoff)") {
            $0 == 0 || (0.05...20).contains($0)
        }
        configuration.polling = p
    }

    private func readHooks(_ values: inout ConfigValueReader, into configuration: inout MprefdConfiguration) throws {
        var h = HookConfiguration()
        h.onComplete = try values.commands(["hooks", "on_complete"])
        h.onFailure = try values.commands(["hooks", "on_failure"])
        h.onExpired = try values.commands(["hooks", "on_expired"])
        h.onRetrieved = try values.commands(["hooks", "on_retrieved"])
        h.onStuck = try values.commands(["hooks", "on_stuck"])
        h.timeout = .seconds(try values.seconds(["hooks", "timeout_s"], default: 600, allowed: "seconds > 0") { $0 > 0 })
        h.killGrace = .seconds(try values.seconds(["hooks", "kill_grace_s"], default: 10, allowed: "seconds >= 0") { $0 >= 0 })
        h.maxAttempts = try values.integer(["hooks", "max_attempts"], default: 5, allowed: "an integer >= 1") { $0 >= 1 }
        let retryInitial = try values.seconds(["hooks", "retry_initial_delay_s"], default: 30, allowed: "seconds > 0") { $0 > 0 }
        h.retryInitialDelay = .seconds(retryInitial)
        h.retryMaxDelay = .seconds(try values.seconds(["hooks", "retry_max_delay_s"], default: 3600, allowed: "seconds >= hooks.retry_initial_delay_s (\(ConfigValueReader.format(retryInitial)))") { $0 >= retryInitial })
        h.concurrency = try values.integer(["hooks", "concurrency"], default: 4, allowed: "an integer >= 1") { $0 >= 1 }
        configuration.hooks = h
    }

    private func readAccount(_ clientID: String, _ values: inout ConfigValueReader, configDirectory: String?) throws -> AccountConfiguration {
        let key = ["accounts", clientID]
        let baseURL = values.text(key + ["base_url"], default: AccountConfiguration.defaultBaseURL)
        let allowInsecureHTTP = try values.bool(key + ["allow_insecure_http"], default: false)
        if let problem = URLCheck.problem(baseURL, allowInsecureHTTP: allowInsecureHTTP, insecureKey: (key + ["allow_insecure_http"]).joined(separator: ".")) {
            throw values.failure(key + ["base_url"], URLCheck.redacted(baseURL), allowed: problem)
        }
        let statusPath = values.text(key + ["status_path"], default: AccountConfiguration.defaultStatusPath)
        if let unknown = StatusURL.unknownPlaceholders(in: statusPath).first {
            throw values.failure(key + ["status_path"], statusPath, allowed: "a path template whose only placeholders are {clientId} and {accessToken}, spelled exactly so (\(unknown) would be sent literally), e.g. \(AccountConfiguration.defaultStatusPath)")
        }
        guard statusPath.contains("{accessToken}"), !statusPath.contains("?"), !statusPath.contains("#") else {
            throw values.failure(key + ["status_path"], statusPath, allowed: "a path template containing {accessToken} (and usually {clientId}), without '?' or '#', e.g. \(AccountConfiguration.defaultStatusPath)")
        }
        let accept = try values.choice(key + ["accept"], default: "json", from: AccountConfiguration.MediaType.allCases.map(\.rawValue))
        let connectTimeout = try values.seconds(key + ["connect_timeout_s"], default: 10, allowed: "seconds > 0") { $0 > 0 }
        // AsyncHTTPClient retries a failed connection (refused, TLS) until the connect timeout; a
        // request deadline at or below it would report every such failure as a plain timeout.
        let requestTimeout = try values.seconds(key + ["request_timeout_s"], default: 30, allowed: "seconds > \(key.joined(separator: ".")).connect_timeout_s (\(ConfigValueReader.format(connectTimeout)))") { $0 > connectTimeout }
        let maxBodyBytes = try values.integer(key + ["max_body_bytes"], default: 65_536, allowed: "an integer 1..1073741824 (bytes)") { (1...1_073_741_824).contains($0) }
        let retrievePath = try pathTemplate(key + ["retrieve_path"], default: AccountConfiguration.defaultRetrievePath, &values)
        let commitPath = try pathTemplate(key + ["commit_path"], default: AccountConfiguration.defaultCommitPath, &values)
        let initiatePath = values.text(key + ["initiate_path"], default: AccountConfiguration.defaultInitiatePath)
        let initiateRule = "a path template containing {segmentName} (and usually {clientId}), no other placeholder, without '?' or '#', e.g. \(AccountConfiguration.defaultInitiatePath)"
        if let unknown = StatusURL.unknownPlaceholders(in: initiatePath.replacingOccurrences(of: "{segmentName}", with: "")).first
            ?? (initiatePath.contains("{accessToken}") ? "{accessToken}" : nil) {
            throw values.failure(key + ["initiate_path"], initiatePath, allowed: "\(initiateRule) (\(unknown) would be sent literally)")
        }
        guard initiatePath.contains("{segmentName}"), !initiatePath.contains("?"), !initiatePath.contains("#") else {
            throw values.failure(key + ["initiate_path"], initiatePath, allowed: initiateRule)
        }
        let auth = try readAuthentication(key + ["auth"], &values, allowInsecureHTTP: allowInsecureHTTP, configDirectory: configDirectory)
        // Read last, so that check-config prints them inside the one `download:` block that follows.
        let maxPageBytes = try values.integer(key + ["download", "max_page_bytes"], default: AccountConfiguration.defaultMaxPageBytes,
                                              allowed: "an integer 1024..4294967296 (bytes)") { (1024...4_294_967_296).contains($0) }
        let pageTimeout = try values.seconds(key + ["download", "page_timeout_s"], default: 300, allowed: "seconds > \(key.joined(separator: ".")).connect_timeout_s (\(ConfigValueReader.format(connectTimeout)))") { $0 > connectTimeout }
        return AccountConfiguration(
            clientID: clientID, baseURL: baseURL, statusPath: statusPath,
            accept: AccountConfiguration.MediaType(rawValue: accept) ?? .json,
            connectTimeout: .seconds(connectTimeout), requestTimeout: .seconds(requestTimeout),
            maxBodyBytes: maxBodyBytes, allowInsecureHTTP: allowInsecureHTTP, auth: auth,
            retrievePath: retrievePath, commitPath: commitPath, maxPageBytes: maxPageBytes, pageTimeout: .seconds(pageTimeout),
            initiatePath: initiatePath)
    }

    /// `callbacks.*`: `nil` when `listen` is empty (then `public_url` must be empty too).
    private func readCallbacks(_ values: inout ConfigValueReader) throws -> CallbackConfiguration? {
        let listen = values.text(["callbacks", "listen"], default: "")
        let publicURL = values.text(["callbacks", "public_url"], default: "")
        let rate = try values.number(["callbacks", "rate_per_source_per_s"], default: 5, allowed: "a number > 0 and <= 1000000 (callbacks per second per source)") { $0 > 0 && $0 <= 1_000_000 }
        let burst = try values.integer(["callbacks", "burst_per_source"], default: 20, allowed: "an integer 1..10000 (callbacks a source may send at once)") { (1...10_000).contains($0) }
        let safety = try values.seconds(["callbacks", "safety_interval_s"], default: CallbackSafetyNet.defaultInterval.seconds,
                                        allowed: "0 (poll as without callbacks) or seconds 10..604800 between the safety polls of an export awaiting its callback") {
            $0 == 0 || (10...604_800).contains($0)
        }
        guard !listen.isEmpty else {
            guard publicURL.isEmpty else {
                throw values.failure(["callbacks", "public_url"], URLCheck.redacted(publicURL), allowed: "\"\" while callbacks.listen is \"\" (nothing would receive the callbacks); set callbacks.listen too, e.g. 127.0.0.1:9465")
            }
            return nil
        }
        guard let address = ListenAddress(listen) else {
            throw values.failure(["callbacks", "listen"], listen, allowed: "\"\" (off), HOST:PORT such as 127.0.0.1:9465, or :PORT (loopback)")
        }
        guard !publicURL.isEmpty else {
            throw values.failure(["callbacks", "public_url"], publicURL, allowed: "the https URL your reverse proxy exposes for the listener, e.g. https://etl.example.com/mprefd/callback (required with callbacks.listen)")
        }
        if let problem = CallbackConfiguration.publicURLProblem(publicURL) {
            throw values.failure(["callbacks", "public_url"], URLCheck.redacted(publicURL), allowed: problem)
        }
        return CallbackConfiguration(listen: address, publicURL: publicURL, ratePerSourcePerSecond: rate, burstPerSource: burst,
                                     safetyInterval: safety == 0 ? nil : .seconds(safety))
    }

    /// A retrieve or commit path template: only `{clientId}` and `{accessToken}`, the latter required, no query.
    private func pathTemplate(_ key: [String], default defaultValue: String, _ values: inout ConfigValueReader) throws -> String {
        let template = values.text(key, default: defaultValue)
        if let unknown = StatusURL.unknownPlaceholders(in: template).first {
            throw values.failure(key, template, allowed: "a path template whose only placeholders are {clientId} and {accessToken}, spelled exactly so (\(unknown) would be sent literally), e.g. \(defaultValue)")
        }
        guard template.contains("{accessToken}"), !template.contains("?"), !template.contains("#") else {
            throw values.failure(key, template, allowed: "a path template containing {accessToken} (and usually {clientId}), without '?' or '#', e.g. \(defaultValue)")
        }
        return template
    }

    /// `accounts.<ID>.download`: whether and how the account's completed exports are downloaded.
    private func readDownload(_ key: [String], _ values: inout ConfigValueReader, configDirectory: String?) throws -> DownloadSettings {
        var d = DownloadSettings()
        d.enabled = try values.bool(key + ["enabled"], default: false)
        let directory = values.text(key + ["directory"], default: DownloadSettings().directory)
        guard !directory.isEmpty, !directory.contains("\u{0}") else {
            throw values.failure(key + ["directory"], directory, allowed: "a directory path (relative paths resolve against the config file's directory)")
        }
        d.directory = Self.absolute(directory, against: configDirectory)
        d.pageSize = try values.integer(key + ["page_size"], default: 1000, allowed: "an integer 1..100000 (records per page)") { (1...100_000).contains($0) }
        d.keepFiles = try values.bool(key + ["keep_files"], default: false)
        d.retentionDays = try values.integer(key + ["retention_days"], default: 0, allowed: "days, 0..36500 (0 = keep forever)") { (0...36_500).contains($0) }
        d.strictCounts = try values.choice(key + ["verify_counts"], default: "strict", from: ["strict", "warn"]) == "strict"
        d.maxAttempts = try values.integer(key + ["max_attempts"], default: 10, allowed: "an integer >= 1") { $0 >= 1 }
        d.diskRetry = .seconds(try values.seconds(key + ["disk_retry_s"], default: 60, allowed: "seconds, 0.1..86400") { (0.1...86_400).contains($0) })
        return d
    }

    private func readAuthentication(_ key: [String], _ values: inout ConfigValueReader, allowInsecureHTTP: Bool, configDirectory: String?) throws -> Authentication {
        let scheme = try values.choice(key + ["scheme"], default: "none", from: ["none", "pnauthinfo3", "oauth"])
        let userID = values.optionalText(key + ["user_id"])
        let secret = try readSecret(key, "secret", &values, configDirectory: configDirectory)
        let tokenURL = values.optionalText(key + ["token_url"])
        let oauthClientID = values.optionalText(key + ["client_id"])
        let clientSecret = try readSecret(key, "client_secret", &values, configDirectory: configDirectory)
        let dotted = key.joined(separator: ".")

        func forbid(_ name: String, _ isSet: Bool) throws {
            if isSet {
                throw MprefdError.configuration("\(dotted).\(name) is set but \(dotted).scheme is \(scheme); remove it, or set the scheme that uses it (user_id: pnauthinfo3, oauth; secret: pnauthinfo3; token_url, client_id, client_secret: oauth)")
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
            return .pnauthinfo3(userID: try require("user_id", userID), secret: try require("secret (or secret_file)", secret))
        case "oauth":
            try forbid("secret", secret != nil)
            let tokenURL = try require("token_url", tokenURL)
            if let problem = URLCheck.problem(tokenURL, allowInsecureHTTP: allowInsecureHTTP, insecureKey: (key.dropLast() + ["allow_insecure_http"]).joined(separator: ".")) {
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
    private func readSecret(_ key: [String], _ name: String, _ values: inout ConfigValueReader, configDirectory: String?) throws -> Secret? {
        let inline = values.secret(key + [name])
        let fileKey = key + [name + "_file"]
        guard let given = values.optionalText(fileKey, record: false) else {
            return inline.map(Secret.init)
        }
        let dotted = key.joined(separator: ".")
        if inline != nil {
            throw MprefdError.configuration("both \(dotted).\(name) and \(dotted).\(name)_file are set; keep one (prefer \(name)_file)")
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
            let reason = FileManager.default.fileExists(atPath: resolved) ? "it is not readable by this user" : "it does not exist"
            throw MprefdError.configuration("\(fileKey.joined(separator: ".")) names \(resolved), but \(reason); fix the path (relative paths resolve against $CREDENTIALS_DIRECTORY when set, else the config file's directory) or its permissions")
        }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
        guard !text.isEmpty else {
            throw MprefdError.configuration("\(fileKey.joined(separator: ".")) names \(resolved), which is empty; put the secret in it")
        }
        values.entries.append(ConfigEntry(path: key + [name], value: .redacted, source: .secretFile(name + "_file")))
        return Secret(text)
    }
}

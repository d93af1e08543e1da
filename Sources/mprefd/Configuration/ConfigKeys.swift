import Logging
import MprefWorker
import MyPreferences
import MprefCore

/// The configuration keys of mprefd, each defined once: its name, type and default, the bounds a
/// value must keep (with the words a bad value's error uses), its unit and a one-line meaning.
///
/// The loader (``ConfigurationLoader``) reads every key through its definition here, so defaults
/// and bounds are written nowhere else; the tree of sections (``root``) that the file check
/// (``ConfigurationFile``) and the `MPREFD_*` override check (``ConfigEnvironmentCheck``) walk is
/// built from these lists. Tests check the README's configuration table (default and unit of each
/// key) and `etc/mprefd.yaml.example` (values equal to the defaults) against them.
///
/// The file is the one given with `--config` (default `/etc/mprefd/mprefd.yaml`); every key is
/// overridable by an environment variable named `MPREFD_` + the key path upper-cased with `_`
/// between parts (`polling.max_delay_s` → `MPREFD_POLLING_MAX_DELAY_S`; `accounts.ACME_Co.auth.secret`
/// → `MPREFD_ACCOUNTS_ACME_CO_AUTH_SECRET`). Hook lists given by environment hold one command per
/// line. Durations (`*_s`) accept decimals, at most ``maxSeconds``. A relative `database.path`,
/// `download.directory`, `secret_file` or `client_secret_file` resolves against the config file's
/// directory (the secret files against `$CREDENTIALS_DIRECTORY` when set); one trailing newline of a
/// secret file is dropped. Rules between keys (`max_delay_s >= initial_delay_s`, `public_url`
/// required with `listen`, which `auth` keys go with which scheme) are checked by the loader.
enum ConfigKeys {
    enum Database {
        static let path: Key<String> = .text(
            "path", ConfigKeys.defaultDatabasePath, .path, "the SQLite file; --db and $MPREFD_DB win over it")
        static let busyTimeout: Key<Double> = .seconds(
            "busy_timeout_s", 10, "seconds >= 1", { $0 >= 1 }, "how long to wait for another process's write lock")
        static let all: [any AnyKey] = [path, busyTimeout]
    }

    enum Log {
        static let level: Key<String> = .choice(
            "level", "info", Logger.Level.allCases.map(\.rawValue), "the lowest level logged")
        static let format: Key<String> = .choice(
            "format", "logfmt", LogFormat.allCases.map(\.rawValue), "one line per event on stderr")
        static let all: [any AnyKey] = [level, format]
    }

    enum Polling {
        static let initialDelay: Key<Double> = .seconds(
            "initial_delay_s", 10, "seconds > 0", { $0 > 0 }, "first delay and the floor of every backoff draw")
        /// At least `initial_delay_s`: checked by the loader.
        static let maxDelay: Key<Double> = .seconds("max_delay_s", 300, "ceiling of the backoff (>= initial_delay_s)")
        static let multiplier: Key<Double> = .number(
            "multiplier", 2, .plain, "a number >= 1", { $0 >= 1 }, "growth of the backoff per attempt")
        static let deadline: Key<Double> = .seconds(
            "deadline_s", 86_400, "seconds >= 0 (0 = no deadline)", { $0 >= 0 },
            "deadline of tokens added without --deadline; 0 = none")
        static let maxRetryAfter: Key<Double> = .seconds(
            "max_retry_after_s", 3600, "seconds > 0", { $0 > 0 }, "longer Retry-After hints are capped")
        static let pauseJitter: Key<Double> = .seconds(
            "pause_jitter_s", 2, "seconds >= 0", { $0 >= 0 },
            "random extra on a pause, so waiting tokens resume spread out")
        static let maxInFlight: Key<Int> = .integer(
            "max_in_flight", 64, .plain, "an integer 1..10000", { (1...10_000).contains($0) },
            "HTTP requests in flight at once, over all accounts")
        static let maxRequestsPerSecondPerHost: Key<Double> = .number(
            "max_requests_per_second_per_host", 50, .plain, "a number > 0", { $0 > 0 }, "pace per host")
        static let notFoundLimit: Key<Int> = .integer(
            "not_found_limit", 3, .plain, "an integer >= 1", { $0 >= 1 }, "consecutive 404s before a token is failed")
        static let authPause: Key<Double> = .seconds(
            "auth_pause_s", 900, "seconds > 0", { $0 > 0 }, "account pause after 401/403")
        static let shutdownGrace: Key<Double> = .seconds(
            "shutdown_grace_s", 10, "seconds >= 0", { $0 >= 0 }, "on SIGTERM, how long in-flight polls may finish")
        static let scheduleEffort: Key<Double> = .number(
            "schedule_effort", 0.9, .dimensionless, "0 (off) or a number 0.05..20 (polls relative to the backoff)",
            { $0 == 0 || (0.05...20).contains($0) },
            "polls of a segment's learned schedule relative to the backoff; 0 = off")
        static let stuckFactor: Key<Double> = .number(
            "stuck_factor", 3, .times, "0 (off) or a number 1..1000 (times the segment's 95th-percentile duration)",
            { $0 == 0 || (1...1000).contains($0) }, "warn once when processing beyond this × the segment's p95; 0 = off"
        )
        static let all: [any AnyKey] = [
            initialDelay, maxDelay, multiplier, deadline, maxRetryAfter, pauseJitter, maxInFlight,
            maxRequestsPerSecondPerHost, notFoundLimit, authPause, shutdownGrace, scheduleEffort, stuckFactor,
        ]
    }

    enum Hooks {
        static let onComplete: Key<[String]> = .commands("on_complete", "run when an export is complete")
        static let onFailure: Key<[String]> = .commands(
            "on_failure", "run when an export failed, its download failed or it timed out")
        static let onExpired: Key<[String]> = .commands("on_expired", "run when an export expired")
        static let onRetrieved: Key<[String]> = .commands("on_retrieved", "run when an export was retrieved already")
        static let onStuck: Key<[String]> = .commands(
            "on_stuck", "run once when an export is stuck (polling.stuck_factor)")
        static let timeout: Key<Double> = .seconds(
            "timeout_s", 600, "seconds > 0", { $0 > 0 }, "then SIGTERM to the hook's process group")
        static let killGrace: Key<Double> = .seconds(
            "kill_grace_s", 10, "seconds >= 0", { $0 >= 0 }, "SIGTERM → SIGKILL grace (also at daemon shutdown)")
        static let maxAttempts: Key<Int> = .integer(
            "max_attempts", 5, .plain, "an integer >= 1", { $0 >= 1 }, "runs before a hook run is dead")
        static let retryInitialDelay: Key<Double> = .seconds(
            "retry_initial_delay_s", 30, "seconds > 0", { $0 > 0 }, "first retry delay, doubling")
        /// At least `retry_initial_delay_s`: checked by the loader.
        static let retryMaxDelay: Key<Double> = .seconds(
            "retry_max_delay_s", 3600, "ceiling of the retry delay (>= retry_initial_delay_s)")
        static let concurrency: Key<Int> = .integer(
            "concurrency", 4, .plain, "an integer >= 1", { $0 >= 1 }, "hooks running at once")
        static let all: [any AnyKey] = [
            onComplete, onFailure, onExpired, onRetrieved, onStuck, timeout, killGrace, maxAttempts,
            retryInitialDelay, retryMaxDelay, concurrency,
        ]
    }

    enum Retention {
        private static let days = "an integer 0..36500 (days; 0 = keep forever)"
        static let historyDays: Key<Int> = .integer(
            "history_days", 90, .days, days, { (0...36_500).contains($0) },
            "polls rows older than this are deleted; 0 = keep forever")
        static let finishedTokensDays: Key<Int> = .integer(
            "finished_tokens_days", 365, .days, days, { (0...36_500).contains($0) },
            "finished and removed tokens (with their polls and hook runs) older than this are deleted; 0 = keep forever"
        )
        static let all: [any AnyKey] = [historyDays, finishedTokensDays]
    }

    enum Metrics {
        /// Parsed by the loader (``ListenAddress``).
        static let listen: Key<String> = .text(
            "listen", "", .hostPort, "Prometheus /metrics; \"\" = off, :PORT = loopback")
        static let all: [any AnyKey] = [listen]
    }

    enum Callbacks {
        /// Parsed by the loader, with `public_url` (required with it, refused without it).
        static let listen: Key<String> = .text(
            "listen", "", .hostPort, "the callback listener behind a TLS reverse proxy; \"\" = off")
        static let publicURL: Key<String> = .text(
            "public_url", "", .url, "the https URL the proxy exposes; CallbackURL = <public_url>/<id>")
        static let ratePerSourcePerSecond: Key<Double> = .number(
            "rate_per_source_per_s", 5, .callbacksPerSecond,
            "a number > 0 and <= 1000000 (callbacks per second per source)",
            { $0 > 0 && $0 <= 1_000_000 }, "callbacks per second per source; more get 429")
        static let burstPerSource: Key<Int> = .integer(
            "burst_per_source", 20, .callbacks, "an integer 1..10000 (callbacks a source may send at once)",
            { (1...10_000).contains($0) }, "callbacks a source may send at once")
        static let safetyInterval: Key<Double> = .seconds(
            "safety_interval_s", CallbackSafetyNet.defaultInterval.seconds,
            "0 (poll as without callbacks) or seconds 10..604800 between the safety polls of an export awaiting its callback",
            { $0 == 0 || (10...604_800).contains($0) },
            "between safety polls of an export awaiting its callback; 0 = poll as without callbacks")
        static let all: [any AnyKey] = [listen, publicURL, ratePerSourcePerSecond, burstPerSource, safetyInterval]
    }

    /// `accounts.<client ID>.*`. The path templates, URLs and `auth` combinations are checked by the loader.
    enum Account {
        static let baseURL: Key<String> = .text("base_url", AccountConfiguration.defaultBaseURL, .url, "the API root")
        static let statusPath: Key<String> = .text(
            "status_path", AccountConfiguration.defaultStatusPath, .template, "the status request's path under base_url"
        )
        static let retrievePath: Key<String> = .text(
            "retrieve_path", AccountConfiguration.defaultRetrievePath, .template, "one page of a completed export")
        static let commitPath: Key<String> = .text(
            "commit_path", AccountConfiguration.defaultCommitPath, .template, "the commit after a verified download")
        static let initiatePath: Key<String> = .text(
            "initiate_path", AccountConfiguration.defaultInitiatePath, .template, "where `mprefd export` POSTs")
        static let accept: Key<String> = .choice(
            "accept", "json", AccountConfiguration.MediaType.allCases.map(\.rawValue), "the Accept header asked for")
        static let connectTimeout: Key<Double> = .seconds(
            "connect_timeout_s", 10, "seconds > 0", { $0 > 0 }, "TCP connect timeout")
        /// More than `connect_timeout_s`: checked by the loader.
        static let requestTimeout: Key<Double> = .seconds(
            "request_timeout_s", 30, "whole request, head and body (> connect_timeout_s)")
        static let maxBodyBytes: Key<Int> = .integer(
            "max_body_bytes", 65_536, .bytes, "an integer 1..1073741824 (bytes)", { (1...1_073_741_824).contains($0) },
            "a larger response body is an error, not an allocation")
        static let allowInsecureHTTP: Key<Bool> = .bool(
            "allow_insecure_http", false, "plain http:// to a non-loopback host")
        static let all: [any AnyKey] = [
            baseURL, statusPath, retrievePath, commitPath, initiatePath, accept,
            connectTimeout, requestTimeout, maxBodyBytes, allowInsecureHTTP,
        ]
    }

    /// `accounts.<client ID>.auth.*`: which keys go with which scheme is checked by the loader.
    enum Auth {
        static let scheme: Key<String> = .choice(
            "scheme", "none", ["none", "pnauthinfo3", "oauth"], "how requests are authenticated")
        static let userID: Key<String?> = .optional("user_id", .text, "MyPreferences UserId (pnauthinfo3, oauth)")
        static let secret: Key<String?> = .optional("secret", .secret, "PNAUTHINFO3 HMAC key; prefer secret_file")
        static let secretFile: Key<String?> = .optional("secret_file", .path, "a file holding secret")
        static let tokenURL: Key<String?> = .optional("token_url", .url, "OAuth token endpoint")
        static let clientID: Key<String?> = .optional(
            "client_id", .text, "OAuth client id (not the MyPreferences client ID)")
        static let clientSecret: Key<String?> = .optional(
            "client_secret", .secret, "OAuth client secret; prefer client_secret_file")
        static let clientSecretFile: Key<String?> = .optional(
            "client_secret_file", .path, "a file holding client_secret")
        static let all: [any AnyKey] = [
            scheme, userID, secret, secretFile, tokenURL, clientID, clientSecret, clientSecretFile,
        ]
    }

    /// `accounts.<client ID>.download.*`.
    enum Download {
        static let enabled: Key<Bool> = .bool(
            "enabled", false, "download every completed export (add-token --download/--no-download wins)")
        static let directory: Key<String> = .text(
            "directory", "/var/lib/mprefd/exports", .path, "files are <directory>/<client ID>/<access token>.ndjson")
        static let pageSize: Key<Int> = .integer(
            "page_size", 1000, .records, "an integer 1..100000 (records per page)", { (1...100_000).contains($0) },
            "the retrieve request's limit")
        static let keepFiles: Key<Bool> = .bool("keep_files", false, "the commit's keepFiles")
        static let retentionDays: Key<Int> = .integer(
            "retention_days", 0, .days, "days, 0..36500 (0 = keep forever)", { (0...36_500).contains($0) },
            "delivered files whose hooks succeeded are deleted after; 0 = keep")
        static let verifyCounts: Key<String> = .choice(
            "verify_counts", "strict", ["strict", "warn"],
            "records written must equal TotalResults and RowCount; warn only logs")
        static let maxAttempts: Key<Int> = .integer(
            "max_attempts", 10, .plain, "an integer >= 1", { $0 >= 1 },
            "failed page/commit requests in a row before download_failed")
        static let diskRetry: Key<Double> = .seconds(
            "disk_retry_s", 60, "seconds, 0.1..86400", { (0.1...86_400).contains($0) },
            "how often a download waiting for disk space tries again")
        static let maxPageBytes: Key<Int> = .integer(
            "max_page_bytes", AccountConfiguration.defaultMaxPageBytes, .bytes, "an integer 1024..4294967296 (bytes)",
            { (1024...4_294_967_296).contains($0) }, "largest page body read")
        /// More than the account's `connect_timeout_s`: checked by the loader.
        static let pageTimeout: Key<Double> = .seconds(
            "page_timeout_s", 300, "one page, send to last body byte (> connect_timeout_s)")
        static let all: [any AnyKey] = [
            enabled, directory, pageSize, keepFiles, retentionDays, verifyCounts, maxAttempts, diskRetry, maxPageBytes,
            pageTimeout,
        ]
    }

    /// The whole file, in documentation order (the order an unknown key's error lists the allowed ones in).
    static let root: Shape = .section([
        ("database", .keys(Database.all)),
        ("log", .keys(Log.all)),
        ("polling", .keys(Polling.all)),
        ("hooks", .keys(Hooks.all)),
        ("retention", .keys(Retention.all)),
        ("metrics", .keys(Metrics.all)),
        ("callbacks", .keys(Callbacks.all)),
        ("accounts", .accounts(.keys(Account.all, [("auth", .keys(Auth.all)), ("download", .keys(Download.all))]))),
    ])

    /// Every key with its path, keys under `accounts` once per client ID of `accountIDs` (with that ID).
    static func all(accountIDs: [String]) -> [(path: [String], key: any AnyKey, account: String?)] {
        var keys: [(path: [String], key: any AnyKey, account: String?)] = []
        func walk(_ shape: Shape, _ path: [String], account: String?) {
            switch shape {
            case .key(let key): keys.append((path, key, account))
            case .section(let children): for (name, child) in children { walk(child, path + [name], account: account) }
            case .accounts(let entry): for id in accountIDs { walk(entry, path + [id], account: id) }
            }
        }
        walk(root, [], account: nil)
        return keys
    }

    /// The default config file path.
    static let defaultConfigPath = "/etc/mprefd/mprefd.yaml"
    /// The default database path (`database.path`).
    static let defaultDatabasePath = "/var/lib/mprefd/mprefd.sqlite3"
    /// The prefix of every overriding environment variable.
    static let environmentPrefix = "MPREFD"
    /// The largest number of seconds any `*_s` key takes: 10⁹ (about 31.7 years). Larger values are
    /// typos, and they would not fit a `Duration`.
    static let maxSeconds: Double = 1_000_000_000

    /// The environment variable that overrides `path` (`["polling", "max_delay_s"]` →
    /// `MPREFD_POLLING_MAX_DELAY_S`), spelled the way swift-configuration's
    /// `EnvironmentVariablesProvider` looks it up: camelCase boundaries get `_`, everything
    /// upper-cased, every character other than a letter or digit becomes `_`.
    static func environmentName(_ path: [String]) -> String {
        ([environmentPrefix] + path).map { component -> String in
            var out = ""
            var previous: Character?
            for character in component {
                if let previous, previous.isLowercase, character.isUppercase { out.append("_") }
                out += character.isLetter || character.isNumber ? character.uppercased() : "_"
                previous = character
            }
            return out
        }.joined(separator: "_")
    }
}

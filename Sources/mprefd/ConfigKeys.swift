/// The configuration keys of mprefd: the one file given with `--config` (default
/// `/etc/mprefd/mprefd.yaml`), every key overridable by an environment variable named `MPREFD_` +
/// the key path upper-cased with `_` between parts (`polling.max_delay_s` →
/// `MPREFD_POLLING_MAX_DELAY_S`; `accounts.ACME_Co.auth.secret` → `MPREFD_ACCOUNTS_ACME_CO_AUTH_SECRET`).
/// Hook lists given by environment hold one command per line.
///
/// ```yaml
/// database:
///   path: /var/lib/mprefd/mprefd.sqlite3   # string; --db and $MPREFD_DB win over it
///   busy_timeout_s: 10                     # seconds (>= 1); waiting for another process's write lock
/// log:
///   level: info        # trace|debug|info|notice|warning|error|critical
///   format: logfmt     # logfmt|json  (to stderr, one line per event)
/// polling:
///   initial_delay_s: 10            # seconds, > 0
///   max_delay_s: 300               # seconds, >= initial_delay_s
///   multiplier: 2                  # >= 1
///   deadline_s: 86400              # seconds; 0 = no deadline; default for add-token without --deadline
///   max_retry_after_s: 3600        # seconds, > 0; longer Retry-After hints are capped
///   pause_jitter_s: 2              # seconds, >= 0
///   max_in_flight: 64              # 1..10000
///   max_requests_per_second_per_host: 50   # > 0
///   not_found_limit: 3             # >= 1
///   auth_pause_s: 900              # seconds, > 0
///   shutdown_grace_s: 10           # seconds, >= 0
///   stuck_factor: 3                # 0 = off; 1..1000: warn once when processing beyond this × the segment's p95
///   schedule_effort: 0.9            # 0 = off; 0.05..20: polls of a segment's learned schedule relative to the backoff
/// hooks:
///   on_complete: []                # list of shell command lines (run with /bin/sh -c)
///   on_failure: []                 # failed and timed_out
///   on_expired: []
///   on_retrieved: []
///   on_stuck: []                   # the export is stuck (polling.stuck_factor); it keeps being watched
///   timeout_s: 600
///   kill_grace_s: 10
///   max_attempts: 5                # >= 1
///   retry_initial_delay_s: 30
///   retry_max_delay_s: 3600
///   concurrency: 4                 # >= 1
/// retention:                      # pruned by the daemon in small batches; 0 = keep forever
///   history_days: 90               # days, 0..36500; polls rows older than this are deleted
///   finished_tokens_days: 365      # days, 0..36500; finished/removed tokens (with their polls and hook runs)
/// metrics:
///   listen: ""                     # "" = off; "127.0.0.1:9464" or ":9464"(= loopback) when on
/// callbacks:                      # the export-complete callback (`mprefd export` sends CallbackURL); off by default
///   listen: ""                     # "" = off; "127.0.0.1:9465" or ":9465"(= loopback); the daemon's listener, behind a TLS reverse proxy
///   public_url: ""                 # the https URL the proxy exposes (required with listen; http only to a loopback host); CallbackURL = <public_url>/<id>
///   rate_per_source_per_s: 5       # callbacks per second per source (the peer, or X-Forwarded-For from a loopback proxy), > 0; more get 429
///   burst_per_source: 20           # the bucket's size: callbacks a source may send at once, integer 1..10000
///   safety_interval_s: 1800        # seconds 10..604800 between safety polls of an export awaiting its callback (first at its segment's p99); 0 = poll as without callbacks
/// accounts:                        # map keyed by MyPreferences client ID (1–128 of [A-Za-z0-9_.-])
///   ACME_Co:
///     base_url: https://pm.mypreferences.com/Profiles
///     status_path: Async/{clientId}/Export/{accessToken}/Status
///     retrieve_path: Async/{clientId}/Export/Segment/{accessToken}          # + ?limit=&offset=&keepAlive=true
///     commit_path: Async/{clientId}/Export/Segment/Commit/{accessToken}     # + ?keepFiles=
///     initiate_path: Async/{clientId}/Export/Segment/{segmentName}          # POST, `mprefd export`
///     accept: json                 # json|xml
///     connect_timeout_s: 10
///     request_timeout_s: 30
///     max_body_bytes: 65536
///     allow_insecure_http: false   # plain http:// to a non-loopback host
///     auth:
///       scheme: none               # none|pnauthinfo3|oauth
///       user_id: etl.user          # pnauthinfo3 and oauth
///       secret: ...                # pnauthinfo3 HMAC key; prefer secret_file
///       secret_file: acme-hmac     # relative paths resolve against $CREDENTIALS_DIRECTORY (systemd LoadCredential=) when set
///       token_url: https://...     # oauth
///       client_id: ...             # oauth client id (not the MyPreferences client ID)
///       client_secret: ...         # oauth; or client_secret_file
///     download:                    # completed exports downloaded to NDJSON files
///       enabled: false             # add-token --download / --no-download wins per token
///       directory: /var/lib/mprefd/exports   # files: <directory>/<client ID>/<access token>.ndjson
///       page_size: 1000            # records per page (the API's limit), 1..100000
///       keep_files: false          # the commit's keepFiles
///       retention_days: 0          # days; delivered files whose hooks succeeded are deleted after; 0 = keep
///       verify_counts: strict      # strict|warn: records written must equal TotalResults and RowCount
///       max_attempts: 10           # failed page/commit requests in a row before download_failed
///       disk_retry_s: 60           # seconds; how often a download waiting for disk space tries again
///       max_page_bytes: 67108864  # bytes, largest page body read
///       page_timeout_s: 300        # seconds, one page from send to last byte
/// ```
///
/// Details beyond the table: a relative `secret_file`/`client_secret_file` resolves against
/// `$CREDENTIALS_DIRECTORY` when set, else against the config file's directory; one trailing
/// newline of a secret file is dropped. Durations (`*_s`) accept decimals. `token_url` follows the
/// same http/https rule as `base_url`.
enum ConfigKeys {
    /// What may stand at a key of the file.
    indirect enum Shape: Sendable {
        /// A scalar (string, number, boolean).
        case value
        /// A sequence of scalars.
        case list
        /// A mapping with exactly these keys (in documentation order).
        case section([(String, Shape)])
        /// A mapping keyed by MyPreferences client ID, each entry of this shape.
        case accounts(Shape)

        /// The allowed keys of a section, comma-separated.
        var allowedKeys: String {
            switch self {
            case .section(let keys): keys.map(\.0).joined(separator: ", ")
            case .accounts: "MyPreferences client IDs (1–128 of letters, digits, '_', '-', '.')"
            case .value: "a single value"
            case .list: "a list of values"
            }
        }
    }

    static let auth: Shape = .section([
        ("scheme", .value), ("user_id", .value), ("secret", .value), ("secret_file", .value),
        ("token_url", .value), ("client_id", .value), ("client_secret", .value), ("client_secret_file", .value),
    ])

    static let download: Shape = .section([
        ("enabled", .value), ("directory", .value), ("page_size", .value), ("keep_files", .value), ("retention_days", .value),
        ("verify_counts", .value), ("max_attempts", .value), ("disk_retry_s", .value), ("max_page_bytes", .value), ("page_timeout_s", .value),
    ])

    static let account: Shape = .section([
        ("base_url", .value), ("status_path", .value), ("retrieve_path", .value), ("commit_path", .value), ("initiate_path", .value), ("accept", .value),
        ("connect_timeout_s", .value), ("request_timeout_s", .value), ("max_body_bytes", .value), ("allow_insecure_http", .value),
        ("auth", auth), ("download", download),
    ])

    /// The whole file.
    static let root: Shape = .section([
        ("database", .section([("path", .value), ("busy_timeout_s", .value)])),
        ("log", .section([("level", .value), ("format", .value)])),
        ("polling", .section([
            ("initial_delay_s", .value), ("max_delay_s", .value), ("multiplier", .value), ("deadline_s", .value),
            ("max_retry_after_s", .value), ("pause_jitter_s", .value), ("max_in_flight", .value),
            ("max_requests_per_second_per_host", .value), ("not_found_limit", .value), ("auth_pause_s", .value),
            ("shutdown_grace_s", .value), ("schedule_effort", .value), ("stuck_factor", .value),
        ])),
        ("hooks", .section([
            ("on_complete", .list), ("on_failure", .list), ("on_expired", .list), ("on_retrieved", .list), ("on_stuck", .list),
            ("timeout_s", .value), ("kill_grace_s", .value), ("max_attempts", .value),
            ("retry_initial_delay_s", .value), ("retry_max_delay_s", .value), ("concurrency", .value),
        ])),
        ("retention", .section([("history_days", .value), ("finished_tokens_days", .value)])),
        ("metrics", .section([("listen", .value)])),
        ("callbacks", .section([("listen", .value), ("public_url", .value), ("rate_per_source_per_s", .value), ("burst_per_source", .value), ("safety_interval_s", .value)])),
        ("accounts", .accounts(account)),
    ])

    /// The default config file path.
    static let defaultConfigPath = "/etc/mprefd/mprefd.yaml"
    /// The default database path (`database.path`).
    static let defaultDatabasePath = "/var/lib/mprefd/mprefd.sqlite3"
    /// The prefix of every overriding environment variable.
    static let environmentPrefix = "MPREFD"

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

import MprefCore
import MyPreferences

/// How the daemon polls: backoff, deadlines, pauses, concurrency. Every value has a documented
/// default chosen for exports that take minutes to hours.
public struct PollingConfiguration: Sendable, Hashable {
    /// First delay after adding a token, and the lower bound of every backoff draw. Default 10 s.
    public var initialDelay: Duration = .seconds(10)
    /// Upper bound of any backoff delay. Default 5 min.
    public var maxDelay: Duration = .seconds(300)
    /// Growth factor per attempt: the n-th delay is drawn in [initial, min(max, initial·multiplierⁿ)]. Default 2.
    public var multiplier: Double = 2
    /// Deadline given to tokens added without `--deadline`; `nil` = none. Default 24 h.
    public var deadline: Duration? = .seconds(86_400)
    /// Longest `Retry-After` honoured; a longer hint is capped (and logged). Default 1 h.
    public var maxRetryAfter: Duration = .seconds(3600)
    /// Largest random extra added to a host pause so that waiting tokens resume spread out. Default 2 s.
    public var pauseJitter: Duration = .seconds(2)
    /// Status requests (HTTP) in flight at once, across all hosts; polls answered but not yet committed are capped at 4× this. Default 64.
    public var maxInFlight: Int = 64
    /// Requests per second to one host (token bucket; bursts up to one second's worth). Default 50.
    public var maxRequestsPerSecondPerHost: Double = 50
    /// Consecutive 404 answers after which a token is `failed` (not found). Default 3.
    public var notFoundLimit: Int = 3
    /// Distinct tokens of one account answering `404` with no `2xx` from that account in between
    /// that make the 404s account-wide (a `base_url` or `status_path` typo, not a missing export):
    /// the account is paused like after `401`/`403` instead of failing every token. 3; not a key.
    public var accountWideNotFound: Int = 3
    /// How long an account is paused after 401/403 (credentials or permissions need an operator). Default 15 min.
    public var authPause: Duration = .seconds(900)
    /// How long shutdown waits for in-flight polls before abandoning them (unrecorded). Default 10 s.
    public var shutdownGrace: Duration = .seconds(10)
    /// `polling.schedule_effort`: a segment's learned schedule spends this many polls per export,
    /// relative to the backoff (1 = as many as today, placed where completion is likely; see
    /// `LearnedSchedule`); 0 turns learned schedules off. Default 0.9.
    public var scheduleEffort: Double = 0.9
    /// `polling.stuck_factor`: a token of a segment still processing after this many times its
    /// segment's 95th-percentile duration raises one `stuck` warning (log, metric, `status`); 0 = off.
    /// Default 3.
    public var stuckFactor: Double = 3
    /// `callbacks.safety_interval_s` when callbacks are on (`callbacks.listen`): an export that awaits
    /// its callback is polled at add, when its callback arrives, and otherwise only by this safety net
    /// (``CallbackSafetyNet``). `nil` = callbacks off, or the key set to 0 (polled as without callbacks).
    public var callbackSafetyInterval: Duration? = nil

    public init() {}
}

/// Shell hooks run when an export reaches a terminal state, or is stuck.
public struct HookConfiguration: Sendable, Hashable {
    /// Commands run on `complete`.
    public var onComplete: [String] = []
    /// Commands run on `failed`, `download_failed` and `timed_out`.
    public var onFailure: [String] = []
    /// Commands run on `expired`.
    public var onExpired: [String] = []
    /// Commands run on `retrieved`.
    public var onRetrieved: [String] = []
    /// Commands run on `stuck`: the export is still processing beyond `polling.stuck_factor` × its
    /// segment's 95th-percentile duration (once per run of the token; it keeps being watched).
    public var onStuck: [String] = []
    /// Longest a hook may run before SIGTERM to its process group. Default 10 min.
    public var timeout: Duration = .seconds(600)
    /// SIGTERM → SIGKILL grace, also given to running hooks at shutdown. Default 10 s.
    public var killGrace: Duration = .seconds(10)
    /// Runs of one hook before it is `dead`. Default 5.
    public var maxAttempts: Int = 5
    /// Delay before the first retry; doubles per attempt up to `retryMaxDelay`. Default 30 s.
    public var retryInitialDelay: Duration = .seconds(30)
    /// Default 1 h.
    public var retryMaxDelay: Duration = .seconds(3600)
    /// Hooks running at once. Default 4.
    public var concurrency: Int = 4

    public init() {}

    /// The global commands by hook event key, as the store inserts hook runs from them.
    package static func globalHooks(_ hooks: HookConfiguration) -> [HookTrigger: [String]] {
        Dictionary(uniqueKeysWithValues: HookTrigger.allCases.map { ($0, hooks.commands(for: $0)) })
    }

    /// The global commands of a hook trigger (`hooks.on_complete`, …).
    public func commands(for trigger: HookTrigger) -> [String] {
        switch trigger {
        case .complete: onComplete
        case .failure: onFailure
        case .expired: onExpired
        case .retrieved: onRetrieved
        case .stuck: onStuck
        }
    }
}

/// How long the daemon keeps history and finished tokens (`retention.*`); 0 days = keep forever.
public struct RetentionConfiguration: Sendable, Hashable {
    /// `polls` rows older than this many days are deleted. Default 90 days.
    public var historyDays: Int = 90
    /// Finished tokens (complete, failed, expired, retrieved, timed_out, removed) whose end is older
    /// than this many days are deleted with their polls and hook runs. Default 365 days.
    public var finishedTokensDays: Int = 365

    public init() {}
}

/// Everything the daemon needs, assembled and validated by the executable.
public struct WorkerConfiguration: Sendable {
    /// The accounts, keyed by client ID.
    public var accounts: [String: AccountConfiguration]
    public var polling: PollingConfiguration
    public var hooks: HookConfiguration
    /// The database path, passed to hooks as `MPREFD_DB`.
    public var databasePath: String
    /// What the daemon prunes, and when.
    public var retention = RetentionConfiguration()
    /// How each account's completed exports are downloaded, by client ID (absent = download off).
    package var downloads: [String: DownloadSettings] = [:]

    public init(accounts: [String: AccountConfiguration], polling: PollingConfiguration = .init(), hooks: HookConfiguration = .init(), databasePath: String) {
        self.accounts = accounts
        self.polling = polling
        self.hooks = hooks
        self.databasePath = databasePath
    }
}

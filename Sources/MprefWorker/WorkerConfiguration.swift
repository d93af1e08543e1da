import MprefCore
import MyPreferences

/// How the daemon polls: backoff, deadlines, pauses, concurrency. Every value has a documented
/// default chosen for exports that take minutes to hours.
package struct PollingConfiguration: Sendable, Hashable {
    /// First delay after adding a token, and the lower bound of every backoff draw. Default 10 s.
    package var initialDelay: Duration = .seconds(10)
    /// Upper bound of any backoff delay. Default 5 min.
    package var maxDelay: Duration = .seconds(300)
    /// Growth factor per attempt: the n-th delay is drawn in [initial, min(max, initial·multiplierⁿ)]. Default 2.
    package var multiplier: Double = 2
    /// Deadline given to tokens added without `--deadline`; `nil` = none. Default 24 h.
    package var deadline: Duration? = .seconds(86_400)
    /// Longest `Retry-After` honoured; a longer hint is capped (and logged). Default 1 h.
    package var maxRetryAfter: Duration = .seconds(3600)
    /// Largest random extra added to a host pause so that waiting tokens resume spread out. Default 2 s.
    package var pauseJitter: Duration = .seconds(2)
    /// Status requests (HTTP) in flight at once, across all hosts; polls answered but not yet committed are capped at 4× this. Default 64.
    package var maxInFlight: Int = 64
    /// Requests per second to one host (token bucket; bursts up to one second's worth). Default 50.
    package var maxRequestsPerSecondPerHost: Double = 50
    /// Consecutive 404 answers after which a token is `failed` (not found). Default 3.
    package var notFoundLimit: Int = 3
    /// Distinct tokens of one account answering `404` with no `2xx` from that account in between
    /// that make the 404s account-wide (a `base_url` or `status_path` typo, not a missing export):
    /// the account is paused like after `401`/`403` instead of failing every token. 3; not a key.
    package var accountWideNotFound: Int = 3
    /// How long an account is paused after 401/403 (credentials or permissions need an operator). Default 15 min.
    package var authPause: Duration = .seconds(900)
    /// How long shutdown waits for in-flight polls before abandoning them (unrecorded). Default 10 s.
    package var shutdownGrace: Duration = .seconds(10)
    /// `polling.schedule_effort`: a segment's learned schedule spends this many polls per export,
    /// relative to the backoff (1 = as many as today, placed where completion is likely; see
    /// `LearnedSchedule`); 0 turns learned schedules off. Default 0.9.
    package var scheduleEffort: Double = 0.9
    /// `polling.stuck_factor`: a token of a segment still processing after this many times its
    /// segment's 95th-percentile duration raises one `stuck` warning (log, metric, `status`); 0 = off.
    /// Default 3.
    package var stuckFactor: Double = 3
    /// `callbacks.safety_interval_s` when callbacks are on (`callbacks.listen`): an export that awaits
    /// its callback is polled at add, when its callback arrives, and otherwise only by this safety net
    /// (``CallbackSafetyNet``). `nil` = callbacks off, or the key set to 0 (polled as without callbacks).
    package var callbackSafetyInterval: Duration? = nil

    package init() {}
}

/// Shell hooks run when an export reaches a terminal state, or is stuck.
package struct HookConfiguration: Sendable, Hashable {
    /// Commands run on `complete`.
    package var onComplete: [String] = []
    /// Commands run on `failed`, `download_failed` and `timed_out`.
    package var onFailure: [String] = []
    /// Commands run on `expired`.
    package var onExpired: [String] = []
    /// Commands run on `retrieved`.
    package var onRetrieved: [String] = []
    /// Commands run on `stuck`: the export is still processing beyond `polling.stuck_factor` × its
    /// segment's 95th-percentile duration (once per run of the token; it keeps being watched).
    package var onStuck: [String] = []
    /// Longest a hook may run before SIGTERM to its process group. Default 10 min.
    package var timeout: Duration = .seconds(600)
    /// SIGTERM → SIGKILL grace, also given to running hooks at shutdown. Default 10 s.
    package var killGrace: Duration = .seconds(10)
    /// Runs of one hook before it is `dead`. Default 5.
    package var maxAttempts: Int = 5
    /// Delay before the first retry; doubles per attempt up to `retryMaxDelay`. Default 30 s.
    package var retryInitialDelay: Duration = .seconds(30)
    /// Default 1 h.
    package var retryMaxDelay: Duration = .seconds(3600)
    /// Hooks running at once. Default 4.
    package var concurrency: Int = 4

    package init() {}

    /// The global commands by hook event key, as the store inserts hook runs from them.
    package static func globalHooks(_ hooks: HookConfiguration) -> [HookTrigger: [String]] {
        Dictionary(uniqueKeysWithValues: HookTrigger.allCases.map { ($0, hooks.commands(for: $0)) })
    }

    /// The global commands of a hook trigger (`hooks.on_complete`, …).
    package func commands(for trigger: HookTrigger) -> [String] {
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
package struct RetentionConfiguration: Sendable, Hashable {
    /// `polls` rows older than this many days are deleted. Default 90 days.
    package var historyDays: Int = 90
    /// Finished tokens (complete, failed, expired, retrieved, timed_out, removed) whose end is older
    /// than this many days are deleted with their polls and hook runs. Default 365 days.
    package var finishedTokensDays: Int = 365

    package init() {}
}

/// Everything the daemon needs, assembled and validated by the executable.
package struct WorkerConfiguration: Sendable {
    /// The accounts, keyed by client ID.
    package var accounts: [ClientID: AccountConfiguration]
    package var polling: PollingConfiguration
    package var hooks: HookConfiguration
    /// The database path, passed to hooks as `MPREFD_DB`.
    package var databasePath: String
    /// What the daemon prunes, and when.
    package var retention = RetentionConfiguration()
    /// How each account's completed exports are downloaded, by client ID (absent = download off).
    package var downloads: [ClientID: DownloadSettings] = [:]

    package init(
        accounts: [ClientID: AccountConfiguration], polling: PollingConfiguration = .init(),
        hooks: HookConfiguration = .init(), databasePath: String
    ) {
        self.accounts = accounts
        self.polling = polling
        self.hooks = hooks
        self.databasePath = databasePath
    }
}

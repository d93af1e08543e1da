import Logging
import MprefCore
import MprefStore

/// Applies the deadlines of tokens whose client ID has no configured account (never polled, so no
/// poll would apply them): with each heartbeat, those past their deadline become `timed_out` and
/// their `on_failure` hooks are queued. A failure is logged and tried again at the next heartbeat.
struct UnconfiguredDeadlines: Sendable {
    let database: DaemonStore
    let configuredClientIDs: [ClientID]
    let hooks: HookSelection
    let logger: Logger
    let onHookRunsQueued: @Sendable () -> Void

    init(
        database: DaemonStore, configuration: WorkerConfiguration, logger: Logger,
        onHookRunsQueued: @escaping @Sendable () -> Void
    ) {
        self.database = database
        self.configuredClientIDs = Array(configuration.accounts.keys)
        let h = configuration.hooks
        self.hooks = HookSelection(global: HookConfiguration.globalHooks(h))
        self.logger = logger
        self.onHookRunsQueued = onHookRunsQueued
    }

    func check() async {
        do {
            let result = try await database.timeOutUnconfiguredTokens(
                configuredClientIDs: configuredClientIDs, hooks: hooks.planner)
            for token in result.timedOut {
                logger.info(
                    "export finished",
                    metadata: [
                        "token.id": "\(token.tokenID)", "export.client_id": "\(token.clientID)",
                        "export.access_token": "\(token.accessToken)",
                        "token.state": "timed_out",
                        "error": "\(DaemonStore.unconfiguredTimeoutError(clientID: token.clientID))",
                    ])
            }
            if result.hookRuns > 0 { onHookRunsQueued() }
        } catch is CancellationError {
        } catch {
            logger.warning(
                "cannot apply the deadlines of tokens without a configured account; retrying",
                metadata: ["error": "\(error)"])
        }
    }
}

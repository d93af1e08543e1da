import Logging
import MprefStore

/// The daemon's periodic chores, run one after the other with each heartbeat: history retention,
/// delivered-file retention, the descriptor watch, the deadlines of tokens without a configured
/// account, and the stuck and expiry watches. Each logs its own failures and never throws.
struct Housekeeping: Sendable {
    let pruner: RetentionPruner
    let fileRetention: DeliveredFileRetention
    let descriptors: DescriptorWatch
    let unconfigured: UnconfiguredDeadlines
    let stuck: StuckWatch
    let expiry: ExpiryWatch

    init(
        database: DaemonStore, configuration: WorkerConfiguration, schedules: SegmentSchedules, logger: Logger,
        onHookRunsQueued: @escaping @Sendable () -> Void
    ) {
        pruner = RetentionPruner(database: database, retention: configuration.retention, logger: logger)
        fileRetention = DeliveredFileRetention(
            database: database, days: configuration.downloads.mapValues(\.retentionDays), logger: logger)
        descriptors = DescriptorWatch(logger: logger)
        unconfigured = UnconfiguredDeadlines(
            database: database, configuration: configuration, logger: logger, onHookRunsQueued: onHookRunsQueued)
        stuck = StuckWatch(
            database: database, schedules: schedules, factor: configuration.polling.stuckFactor,
            hooks: HookSelection(global: HookConfiguration.globalHooks(configuration.hooks)), logger: logger,
            onHookRunsQueued: onHookRunsQueued)
        expiry = ExpiryWatch(database: database, logger: logger)
    }

    /// One round of every chore.
    func run() async {
        await pruner.pruneIfDue()
        await fileRetention.pruneIfDue()
        descriptors.check()
        await unconfigured.check()
        await stuck.check()
        await expiry.check()
    }
}

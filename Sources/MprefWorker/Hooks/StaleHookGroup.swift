/// What a restarted daemon does with the process group of a hook run that a killed daemon left
/// `running` (issue 17.4: the old run must end before the event runs again).
///
/// Pure: the caller observes the group (``ProcessGroupObservation``) and acts on the decision.
package enum StaleHookGroupDecision: Sendable, Hashable {
    /// Nothing of the old run is alive: re-run at once.
    case gone
    /// The group is the old run's: end it (SIGTERM, `hooks.kill_grace_s`, SIGKILL) before the re-run.
    case end
    /// A group with that id exists but is provably not the old run's (the PID was reused, or the
    /// machine rebooted since): leave it alone.
    case notOurs(reason: String)

    /// Decides from what was recorded when the old run started and what is observed now.
    ///
    /// - Parameters:
    ///   - recordedIdentity: `boot_id/starttime` of the hook's leader when it started
    ///     (``ProcessIdentity``), `nil` when it could not be read — then the group is never signalled.
    ///   - observation: the group now.
    ///   - ownGroup: the daemon's own process group, never signalled.
    package static func decide(recordedIdentity: String?, ownGroup: Int32, observation: ProcessGroupObservation)
        -> StaleHookGroupDecision
    {
        // 0 and 1 would signal the daemon's own group or every process (`kill(0|-1, …)`): a
        // damaged row must never do that.
        guard observation.pgid > 1, observation.pgid != ownGroup else {
            return .notOurs(reason: "process group \(observation.pgid) cannot be a hook's")
        }
        guard observation.liveMembers > 0 else { return .gone }
        // Without a recorded identity the group cannot be proven to be the old run's (a row edited
        // by hand, or /proc unreadable when it started): never signal what may be someone else's.
        guard let recordedIdentity, !recordedIdentity.isEmpty else {
            return .notOurs(
                reason:
                    "no identity of the hook's process was recorded, so the group cannot be proven to be the old run's")
        }
        if let boot = recordedIdentity.split(separator: "/").first, let currentBoot = observation.bootID,
            String(boot) != currentBoot
        {
            return .notOurs(reason: "the machine rebooted since the hook started")
        }
        if let leader = observation.leaderIdentity, leader != recordedIdentity {
            return .notOurs(reason: "process \(observation.pgid) is a different process now (PID reused)")
        }
        // Leader alive with the recorded start time, or the leader gone and members left in its
        // group: a group ID is not reused while any member lives, so these are the old run's
        // (residual risk: README, "Hooks").
        return .end
    }
}

/// One look at a process group.
package struct ProcessGroupObservation: Sendable, Hashable {
    package var pgid: Int32
    /// Members that are not zombies.
    package var liveMembers: Int
    /// `boot_id/starttime` of the process whose PID is `pgid`, when it exists (zombie or not).
    package var leaderIdentity: String?
    /// This boot's id (`/proc/sys/kernel/random/boot_id`).
    package var bootID: String?

    package init(pgid: Int32, liveMembers: Int, leaderIdentity: String?, bootID: String?) {
        self.pgid = pgid
        self.liveMembers = liveMembers
        self.leaderIdentity = leaderIdentity
        self.bootID = bootID
    }
}

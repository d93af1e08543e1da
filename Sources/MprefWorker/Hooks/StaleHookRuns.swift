import Foundation
import Logging
import MprefStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// At daemon start, before hook runs left `running` by a killed daemon are queued again: ends the
/// process groups those runs still have (issue 17.4), so no two runs of one event overlap.
///
/// Each group gets `SIGTERM`, then `SIGKILL` once `killGrace` passes, and is awaited until no live
/// member is left (up to `killGrace` more after the `SIGKILL`; then a warning, and the re-run goes
/// ahead). A group that is provably not the old run's (``StaleHookGroupDecision``) is left alone.
struct StaleHookRuns {
    let killGrace: Duration
    let logger: Logger

    /// Ends every live group of `runs`, all at once, and returns when they are gone.
    func end(_ runs: [InterruptedHookRun]) async {
        var ending: [InterruptedHookRun] = []
        for run in runs {
            let observation = ProcessIdentity.observe(group: run.pgid)
            let metadata: Logger.Metadata = ["hook.run_id": "\(run.id)", "hook.pgid": "\(run.pgid)"]
            switch StaleHookGroupDecision.decide(
                recordedIdentity: run.leaderIdentity, ownGroup: getpgrp(), observation: observation)
            {
            case .gone:
                continue
            case .notOurs(let reason):
                logger.info(
                    "the interrupted hook run's process group is not its own any more; left alone",
                    metadata: metadata.merging(["reason": "\(reason)"]) { a, _ in a })
            case .end:
                logger.warning(
                    "the hook run interrupted by the last stop is still running; ending it before it runs again",
                    metadata: metadata.merging(["hook.live_processes": "\(observation.liveMembers)"]) { a, _ in a })
                _ = kill(-run.pgid, SIGTERM)
                ending.append(run)
            }
        }
        guard !ending.isEmpty else { return }
        if await awaitGone(ending, within: killGrace) { return }
        for run in ending where ProcessIdentity.liveMembers(ofGroup: run.pgid) > 0 {
            logger.warning(
                "the interrupted hook run outlived SIGTERM and the grace; SIGKILL",
                metadata: ["hook.run_id": "\(run.id)", "hook.pgid": "\(run.pgid)"])
            _ = kill(-run.pgid, SIGKILL)
        }
        if await awaitGone(ending, within: killGrace) { return }
        logger.error(
            "processes of an interrupted hook run survived SIGKILL; running the hook again anyway",
            metadata: ["hook.run_ids": "\(ending.map(\.id))"])
    }

    /// Polls `/proc` with a short backoff until no group of `runs` has a live member, or `limit` passes.
    private func awaitGone(_ runs: [InterruptedHookRun], within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        var delay = Duration.milliseconds(5)
        while true {
            if runs.allSatisfy({ ProcessIdentity.liveMembers(ofGroup: $0.pgid) == 0 }) { return true }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(100))
        }
    }
}

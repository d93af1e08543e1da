import Foundation
import MprefCore
import MprefStore
import MprefWorker
import MyPreferences

/// When a watching (or downloading) token is really sent its next request, for `mprefd list`: the
/// scheduler's own rule (`PauseRule`) applied to the stored `next_poll_at` and the pauses in force
/// — the daemon keeps such a token's planned time in the database and waits for the pause in memory.
struct HeldPolls {
    private let accountPauses: [String: PauseRecord]
    private let hostPauses: [String: PauseRecord]
    private let hostKeys: [String: String]

    /// - Parameters:
    ///   - pauses: the pauses in force (`SchedulingReads.pausesInForce(now:)`).
    ///   - configuration: maps each client ID to its host (`base_url`), the subject of a host pause.
    init(pauses: [PauseRecord], configuration: MprefdConfiguration) {
        accountPauses = Dictionary(
            pauses.filter { $0.scope == .account }.map { ($0.subject, $0) }, uniquingKeysWith: { a, _ in a })
        hostPauses = Dictionary(
            pauses.filter { $0.scope == .host }.map { ($0.subject, $0) }, uniquingKeysWith: { a, _ in a })
        hostKeys = configuration.accountHosts
    }

    /// `next_poll_at` as stored, or the end of the pause that holds the token past it, e.g.
    /// `2026-11-29T10:15:00.000Z (account paused)`; `-` when there is no next poll.
    func nextPoll(of token: TokenRecord) -> String {
        guard let planned = token.nextPollAt else { return "-" }
        guard token.state.isActive, let plannedDate = Timestamp.parse(planned) else { return planned }
        let held = PauseRule.effectiveDue(
            planned: plannedDate, host: hostKeys[token.clientID].flatMap { hostPauses[$0] }?.pausedUntil,
            account: accountPauses[token.clientID]?.pausedUntil)
        guard let scope = held.heldBy else { return planned }
        return "\(Timestamp.format(held.due)) (\(scope.rawValue) paused)"
    }
}

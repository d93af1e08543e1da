import MprefStore
import MprefCore

/// What makes a running daemon "degraded" in `mprefd status` (exit 4): pure, from one snapshot and
/// the configured accounts.
///
/// - error rate: at least ``minimumPolls`` polls in the last 10 minutes and at least
///   ``errorRateLimit`` of them without a usable status (`outcome <> 'ok'`: 503s, 5xx, timeouts, …);
/// - dead hook runs: any (`mprefd hooks list --state dead`; `hooks retry --dead` re-arms them);
/// - tokens not being polled: watching tokens of a client ID that is not a configured account, and
///   watching tokens more than 5 minutes past their planned poll while neither their host nor their
///   account is paused.
struct StatusProblems: Sendable, Hashable {
    /// The share of failed polls at or above which the daemon is degraded. 0.5.
    static let errorRateLimit = 0.5
    /// Fewer recent polls than this never count as a high error rate. 10.
    static let minimumPolls = 10

    var recentPolls: Int
    var recentErrors: Int
    var deadHookRuns: Int
    /// Watching tokens of client IDs that have no configured account.
    var unconfiguredTokens: Int
    /// Watching tokens overdue by more than 5 minutes, not explained by a pause.
    var overdueTokens: Int

    /// `nil` when no poll was recorded in the window.
    var errorRate: Double? {
        recentPolls > 0 ? Double(recentErrors) / Double(recentPolls) : nil
    }

    /// - Parameter accountHosts: host key (`scheme://host:port`) by configured client ID; empty when
    ///   the configuration names no account (then no token counts as unconfigured).
    init(snapshot: StatusSnapshot, accountHosts: [String: String]) {
        recentPolls = snapshot.recentPolls
        recentErrors = snapshot.recentErrors
        deadHookRuns = snapshot.hookRunCounts["dead"] ?? 0
        let pausedAccounts = Set(snapshot.pauses.filter { $0.scope == .account }.map(\.subject))
        let pausedHosts = Set(snapshot.pauses.filter { $0.scope == .host }.map(\.subject))
        var unconfigured = 0
        var overdue = 0
        for (clientID, watching) in snapshot.watchingByClientID {
            guard accountHosts.isEmpty || accountHosts[clientID] != nil else {
                unconfigured += watching
                continue
            }
            if pausedAccounts.contains(clientID) { continue }
            if let host = accountHosts[clientID], pausedHosts.contains(host) { continue }
            overdue += snapshot.overdueByClientID[clientID] ?? 0
        }
        unconfiguredTokens = unconfigured
        overdueTokens = overdue
    }

    /// One sentence per problem, with what to do; empty when healthy.
    var descriptions: [String] {
        var out: [String] = []
        if let rate = errorRate, recentPolls >= Self.minimumPolls, rate >= Self.errorRateLimit {
            out.append(
                "\(recentErrors) of \(recentPolls) polls in the last 10 minutes failed (\(Int((rate * 100).rounded())) %); see `mprefd list` and the log"
            )
        }
        if deadHookRuns > 0 {
            out.append(
                "\(deadHookRuns) dead hook run\(deadHookRuns == 1 ? "" : "s"); see `mprefd hooks list --state dead`, re-arm with `mprefd hooks retry --dead`"
            )
        }
        if unconfiguredTokens > 0 {
            out.append(
                "\(unconfiguredTokens) watched token\(unconfiguredTokens == 1 ? " is" : "s are") not polled: no account is configured for \(unconfiguredTokens == 1 ? "its" : "their") client ID"
            )
        }
        if overdueTokens > 0 {
            out.append(
                "\(overdueTokens) watched token\(overdueTokens == 1 ? " is" : "s are") more than 5 minutes past \(overdueTokens == 1 ? "its" : "their") planned poll without a pause"
            )
        }
        return out
    }
}

import Logging
import MprefStore
import Synchronization
import MprefCore

/// Whether a poll moved a token into or out of failing (issue 17.13): pure.
package enum FailureTransition: Sendable, Hashable {
    case startedFailing
    case recovered

    /// A token fails while its polls give no usable status (`consecutive_errors`) or keep answering
    /// 404 (`consecutive_not_found`). `nil` when this poll changed neither.
    package static func of(before: WatchedToken, after write: PollWrite) -> FailureTransition? {
        let was = before.consecutiveErrors > 0 || before.consecutiveNotFound > 0
        let isNow = write.newState == .watching && (write.consecutiveErrors > 0 || write.consecutiveNotFound > 0)
        if !was && isNow { return .startedFailing }
        if was && !isNow && write.newState == .watching { return .recovered }
        return nil
    }
}

/// Logs one info line when a token starts failing and one when it recovers, and the same for its
/// account (the first of its tokens to fail, the last to recover), so a failing export or a failing
/// account is visible at `log.level: info` without a line per failed poll.
package final class FailureLog: Sendable {
    private let logger: Logger
    /// Failing token ids by client ID (only tokens seen failing by this process).
    private let failing = Mutex<[ClientID: Set<TokenID>]>([:])

    package init(logger: Logger) {
        self.logger = logger
    }

    /// Notes the committed poll `write` of `token` (as it was before the poll).
    package func note(token: WatchedToken, write: PollWrite) {
        let transition = FailureTransition.of(before: token, after: write)
        let (accountStarted, accountRecovered) = failing.withLock { byAccount -> (Bool, Bool) in
            var set = byAccount[token.clientID] ?? []
            let wasEmpty = set.isEmpty
            if transition == .startedFailing {
                set.insert(token.id)
            } else if transition == .recovered || write.newState != .watching {
                set.remove(token.id)
            }
            byAccount[token.clientID] = set.isEmpty ? nil : set
            return (wasEmpty && !set.isEmpty, !wasEmpty && set.isEmpty)
        }
        var metadata: Logger.Metadata = [
            "export.client_id": "\(token.clientID)", "export.access_token": "\(token.accessToken)",
            "poll.outcome": "\(write.outcome.rawValue)",
        ]
        if let status = write.httpStatus { metadata["http.status"] = "\(status)" }
        if let error = write.lastError { metadata["error"] = "\(error)" }
        switch transition {
        case .startedFailing?:
            logger.info("token polls failing", metadata: metadata)
        case .recovered?:
            metadata["token.failed_polls"] = "\(max(token.consecutiveErrors, token.consecutiveNotFound))"
            logger.info("token polls succeed again", metadata: metadata)
        case nil:
            break
        }
        if accountStarted {
            logger.info(
                "account polls failing",
                metadata: ["export.client_id": "\(token.clientID)", "poll.outcome": "\(write.outcome.rawValue)"])
        } else if accountRecovered {
            logger.info("account polls succeed again", metadata: ["export.client_id": "\(token.clientID)"])
        }
    }
}

import Foundation
import Logging
import MprefCore
import MprefStore

/// Warns once per token when a complete export that has not been delivered is about to expire
/// (``ExpiryRule``): one `export expires soon` log line naming the client ID, the access token, its
/// `Expires` and what to do. Run with each heartbeat; a failure is logged at debug and tried again.
///
/// The once-marker is in memory, keyed by token and `Expires`: a warning needs no database write
/// (`mprefd status` shows the condition from `tokens.expires` whenever asked), a changed `Expires`
/// is warned about again, and a restarted daemon repeats it once — the condition still holds and the
/// first line may be in a rotated log. Tokens that no longer qualify are forgotten, so the set stays
/// as small as the number of expiring exports.
package actor ExpiryWatch {
    /// One warning raised.
    package struct Warning: Sendable, Hashable {
        package var tokenID: TokenID
        package var clientID: String
        package var accessToken: AccessToken
        package var state: TokenState
        package var expires: String
        /// Seconds from the check until `expires`; negative when it has passed.
        package var secondsLeft: TimeInterval
    }

    private struct Key: Hashable {
        var tokenID: TokenID
        var expires: String
    }

    let database: DaemonStore
    let logger: Logger
    let wallNow: @Sendable () -> Date
    private var warned: Set<Key> = []

    package init(database: DaemonStore, logger: Logger, wallNow: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.logger = logger
        self.wallNow = wallNow
    }

    /// Logs the warnings due now that were not logged before; returns them.
    @discardableResult
    package func check() async -> [Warning] {
        do {
            let now = wallNow()
            var due: Set<Key> = []
            var raised: [Warning] = []
            for token in try await database.tokensWithExpiry(in: ExpiryRule.undeliveredStates) {
                guard let left = ExpiryRule.secondsLeft(state: token.state, expires: token.expires, now: now) else {
                    continue
                }
                let key = Key(tokenID: token.id, expires: token.expires)
                due.insert(key)
                guard !warned.contains(key) else { continue }
                let warning = Warning(
                    tokenID: token.id, clientID: token.clientID, accessToken: token.accessToken, state: token.state,
                    expires: token.expires, secondsLeft: left)
                logger.warning(
                    "export expires soon and is not delivered",
                    metadata: [
                        "export.client_id": "\(token.clientID)", "export.access_token": "\(token.accessToken)",
                        "export.expires": "\(token.expires)",
                        "export.expires_in_s": "\(Int64(saturating: left))", "token.state": "\(token.state.rawValue)",
                        "action": "\(ExpiryRule.advice(state: token.state, accessToken: token.accessToken))",
                    ])
                raised.append(warning)
            }
            warned = warned.intersection(due).union(raised.map { Key(tokenID: $0.tokenID, expires: $0.expires) })
            return raised
        } catch is CancellationError {
            return []
        } catch {
            logger.debug("expiry check failed; trying again at the next heartbeat", metadata: ["error": "\(error)"])
            return []
        }
    }
}

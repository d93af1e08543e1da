import Foundation
import MprefCore
import GRDB

/// One row of `tokens`, as analysts see it (`mprefd list --json` prints these, keys = column names).
package struct TokenRecord: Codable, Sendable, Hashable, FetchableRecord {
    package var id: TokenID
    package var clientID: String
    package var accessToken: AccessToken
    package var label: String?
    package var state: TokenState
    /// The API's `Status`, verbatim, from the latest decoded poll.
    package var lastStatus: String?
    package var rowCount: Int64?
    package var byteCount: Int64?
    /// Timestamps: UTC text `YYYY-MM-DDTHH:MM:SS.sssZ` (see `Timestamp`).
    package var addedAt: String
    package var nextPollAt: String?
    package var deadlineAt: String?
    package var lastPolledAt: String?
    package var finishedAt: String?
    /// Polls since the token was (re-)armed.
    package var attempt: Int
    /// Polls in a row without a usable status.
    package var consecutiveErrors: Int
    package var lastError: String?
    /// Whether the globally configured hooks run for this token (`add-token --no-global-hooks` clears it).
    package var globalHooks: Bool
    /// The segment the export belongs to (`mprefd export`, `add-token --segment`); `nil` = none.
    package var segment: String? = nil
    /// When the daemon raised the export's `stuck` warning (UTC timestamp); `nil` = not stuck.
    package var stuckAt: String? = nil
    /// The status's `Expires` (the API/3 form; format undocumented), as answered, at most 64 characters.
    package var expires: String? = nil

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, label, state, attempt
        case clientID = "client_id"
        case accessToken = "access_token"
        case lastStatus = "last_status"
        case rowCount = "row_count"
        case byteCount = "byte_count"
        case addedAt = "added_at"
        case nextPollAt = "next_poll_at"
        case deadlineAt = "deadline_at"
        case lastPolledAt = "last_polled_at"
        case finishedAt = "finished_at"
        case consecutiveErrors = "consecutive_errors"
        case lastError = "last_error"
        case globalHooks = "global_hooks"
        case segment
        case stuckAt = "stuck_at"
        case expires
    }

    /// The `tokens` columns a `TokenRecord` is read from (its coding keys: rows decode by column name).
    static let columns = CodingKeys.allCases.map(\.rawValue).joined(separator: ", ")

    /// SQL for one row as the JSON object `encode(to:)` writes (every key, `null` for NULL, keys
    /// sorted as `Output.json` sorts them), built by SQLite's `json_object`: what `list --json` prints.
    static let jsonObject: String = {
        let pairs = CodingKeys.allCases.map(\.rawValue).sorted().map { key in
            // The column is an INTEGER 0/1; JSON wants a boolean.
            key == CodingKeys.globalHooks.rawValue
                ? "'\(key)', json(CASE WHEN \(key) THEN 'true' ELSE 'false' END)"
                : "'\(key)', \(key)"
        }
        return "json_object(" + pairs.joined(separator: ", ") + ")"
    }()
}

/// One row of `polls`: the history of one poll attempt.
package struct PollRecord: Codable, Sendable, Hashable, FetchableRecord {
    package var id: Int64
    package var tokenID: TokenID
    package var polledAt: String
    package var httpStatus: Int?
    package var status: String?
    package var rowCount: Int64?
    package var byteCount: Int64?
    /// Milliseconds from request sent to whole body read.
    package var latencyMs: Int64?
    /// Seconds; the server's `Retry-After` hint (RFC 9110 §10.2.3).
    package var retryAfterS: Double?
    /// Seconds; the delay chosen after this poll.
    package var nextDelayS: Double?
    package var outcome: String
    package var error: String?

    enum CodingKeys: String, CodingKey {
        case id, status, outcome, error
        case tokenID = "token_id"
        case polledAt = "polled_at"
        case httpStatus = "http_status"
        case rowCount = "row_count"
        case byteCount = "byte_count"
        case latencyMs = "latency_ms"
        case retryAfterS = "retry_after_s"
        case nextDelayS = "next_delay_s"
    }
}

import Foundation
import GRDB
import MprefCore

/// Why a `tokens` row cannot be polled as it is: a column holds a value the daemon cannot use
/// (an unparseable `next_poll_at`, a negative count, …) — typically after an operator edited the
/// database with `sqlite3` or restored an old backup.
///
/// Such a row is data to repair, never a reason to stop: the daemon logs it once (naming the token,
/// the column and the value), keeps it as it is and does not poll it; `mprefd status` counts it and
/// `mprefd show` says what is wrong and how to repair it.
package struct TokenRowDefect: Error, Sendable, Hashable, CustomStringConvertible, Encodable {
    /// `tokens.id`.
    package var tokenID: TokenID
    /// `tokens.client_id` and `tokens.access_token`, when those two could be read.
    package var clientID: String?
    package var accessToken: Int64?
    /// The column that holds the unusable value.
    package var column: String
    /// The value as found (at most 64 characters, control characters escaped), or `NULL`.
    package var value: String
    /// What a usable value looks like.
    package var expected: String

    package var description: String {
        "column \(column) holds \(value); expected \(expected)"
    }

    /// How an operator repairs it, for `show` and the daemon's log line.
    package var repair: String {
        let fix = "fix it with sqlite3 (UPDATE tokens SET \(column) = … WHERE id = \(tokenID))"
        guard let accessToken, accessToken > 0, column != "access_token" else {
            return fix
                + ", then `mprefd pause TOKEN && mprefd resume TOKEN` with the repaired access token so the daemon re-reads the row"
        }
        return fix
            + ", then `mprefd pause \(accessToken) && mprefd resume \(accessToken)` so the daemon re-reads the row"
    }

    /// The JSON form (`status --json` `unusable_rows`, `show --json` `unusable_row`): every field
    /// above plus `repair`, keys snake_case, `null` for an unknown client ID or access token.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tokenID, forKey: .tokenID)
        try c.encode(clientID, forKey: .clientID)
        try c.encode(accessToken, forKey: .accessToken)
        try c.encode(column, forKey: .column)
        try c.encode(value, forKey: .value)
        try c.encode(expected, forKey: .expected)
        try c.encode(repair, forKey: .repair)
    }

    private enum CodingKeys: String, CodingKey {
        case column, value, expected, repair
        case tokenID = "token_id"
        case clientID = "client_id"
        case accessToken = "access_token"
    }

    /// A bounded, printable rendering of a database value for messages.
    static func render(_ value: DatabaseValue) -> String {
        switch value.storage {
        case .null: return "NULL"
        case .int64(let n): return String(n)
        case .double(let d): return String(d)
        case .string(let text):
            let escaped = text.unicodeScalars.prefix(64).map { scalar -> String in
                scalar.properties.generalCategory == .control || scalar == "'"
                    ? scalar.escaped(asASCII: true) : String(scalar)
            }.joined()
            return "'" + escaped + (text.unicodeScalars.count > 64 ? "…" : "") + "'"
        case .blob(let data): return "a \(data.count)-byte blob"
        }
    }
}

extension WatchedToken {
    /// The `tokens` columns a `WatchedToken` is read from, by name.
    static let columns = """
        id, client_id, access_token, attempt, consecutive_errors, consecutive_not_found, next_poll_at, deadline_at, state, download, \
        row_count, byte_count, added_at, segment, \
        (SELECT e.callback_id IS NOT NULL FROM exports e WHERE e.token_id = tokens.id) AS awaits_callback
        """

    /// Reads a watched token from a row holding ``columns``, or says which column cannot be used.
    ///
    /// Every column is a public interface (operators have `sqlite3`), so nothing here may trap:
    /// counts must be integers ≥ 0 (huge ones are fine: the policy saturates), timestamps `NULL` or
    /// `YYYY-MM-DDTHH:MM:SS[.fff]Z` (``Timestamp/parse(_:)``), the access token > 0, the client ID by ``ClientID/rule``.
    package static func decode(_ row: Row) -> Result<WatchedToken, TokenRowDefect> {
        let id = TokenID((try? row.decode(Int64.self, forColumn: "id")) ?? 0)
        let clientID = try? row.decode(String.self, forColumn: "client_id")
        let accessToken = try? row.decode(Int64.self, forColumn: "access_token")
        func defect(_ column: String, _ expected: String) -> Result<WatchedToken, TokenRowDefect> {
            .failure(
                TokenRowDefect(
                    tokenID: id, clientID: clientID, accessToken: accessToken, column: column,
                    value: TokenRowDefect.render((try? row.decode(DatabaseValue.self, forColumn: column)) ?? .null),
                    expected: expected))
        }
        // The schema's own CHECKs, which `PRAGMA ignore_check_constraints` lets an operator bypass:
        // such a row could never be written back.
        // The client ID names the account's directory of downloads too: the same rule as where it
        // enters (`ClientID`), not only the schema's length CHECK.
        guard let text = clientID, let clientID = ClientID(text) else {
            return defect("client_id", ClientID.rule)
        }
        guard let accessToken, accessToken > 0 else { return defect("access_token", "an integer > 0") }
        func count(_ column: String) -> Int? {
            guard let value = try? row.decode(Int64.self, forColumn: column), value >= 0 else { return nil }
            return Int(clamping: value)
        }
        guard let attempt = count("attempt") else { return defect("attempt", "an integer >= 0") }
        guard let errors = count("consecutive_errors") else { return defect("consecutive_errors", "an integer >= 0") }
        guard let notFound = count("consecutive_not_found") else {
            return defect("consecutive_not_found", "an integer >= 0")
        }
        /// `.none`: unusable; `.some(nil)`: NULL; `.some(date)`: a time.
        func time(_ column: String) -> Date?? {
            let text: String?
            do { text = try row.decode(String?.self, forColumn: column) } catch { return .none }
            guard let text else { return .some(nil) }
            return Timestamp.parse(text).map { .some($0) } ?? .none
        }
        let timestampForm = "NULL or a UTC time YYYY-MM-DDTHH:MM:SS.sssZ"
        guard let nextPollAt = time("next_poll_at") else { return defect("next_poll_at", timestampForm) }
        guard let deadlineAt = time("deadline_at") else { return defect("deadline_at", timestampForm) }
        guard let state = (try? row.decode(String.self, forColumn: "state")).flatMap(TokenState.init(rawValue:)) else {
            return defect("state", TokenState.allowedValues)
        }
        let download: Bool?
        do {
            switch try row.decode(Int64?.self, forColumn: "download") {
            case nil: download = nil
            case 0: download = false
            case 1: download = true
            default: return defect("download", "NULL (the account's download.enabled), 0 or 1")
            }
        } catch {
            return defect("download", "NULL (the account's download.enabled), 0 or 1")
        }
        // RowCount only informs the download's verification: an unusable value is "unknown".
        let rowCount = (try? row.decode(Int64?.self, forColumn: "row_count")).flatMap { $0 }
        let byteCount = (try? row.decode(Int64?.self, forColumn: "byte_count")).flatMap { $0 }
        // Both only inform the learned poll schedule: an unusable value means "no history" (today's backoff).
        let addedAt = (try? row.decode(String?.self, forColumn: "added_at")).flatMap { $0 }.flatMap(Timestamp.parse)
        let segment = (try? row.decode(String?.self, forColumn: "segment")).flatMap { $0 }.flatMap(SegmentName.init)
        // Only places the polls (a callback safety net): NULL (no export row) is "no callback".
        let awaitsCallback = ((try? row.decode(Int64?.self, forColumn: "awaits_callback")).flatMap { $0 } ?? 0) == 1
        return .success(
            WatchedToken(
                id: id, clientID: clientID, accessToken: AccessToken(accessToken), attempt: attempt,
                consecutiveErrors: errors,
                consecutiveNotFound: notFound, nextPollAt: nextPollAt, deadlineAt: deadlineAt, state: state,
                download: download,
                rowCount: rowCount, byteCount: byteCount, addedAt: addedAt, segment: segment,
                awaitsCallback: awaitsCallback))
    }
}

extension ReportStore {
    /// The watching tokens whose rows the daemon cannot use, by id (for `status`).
    package func unusableWatchingRows() throws -> [TokenRowDefect] {
        try read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: "SELECT \(WatchedToken.columns) FROM tokens WHERE state IN ('watching', 'downloading') ORDER BY id"
            )
            var defects: [TokenRowDefect] = []
            while let row = try rows.next() {
                if case .failure(let defect) = WatchedToken.decode(row) { defects.append(defect) }
            }
            return defects
        }
    }

}

extension AdminStore {
    /// Why the row of token `id` cannot be polled, or `nil` when it can (for `show`).
    package func rowDefect(tokenID id: TokenID) throws -> TokenRowDefect? {
        try read { db -> TokenRowDefect? in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT \(WatchedToken.columns) FROM tokens WHERE id = ?", arguments: [id])
            else { return nil }
            if case .failure(let defect) = WatchedToken.decode(row) { return defect }
            return nil
        }
    }
}

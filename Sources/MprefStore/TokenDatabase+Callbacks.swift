import Foundation
import GRDB
import MprefCore

/// What a callback id (`exports.callback_id`) names: the export and, once its access token is
/// known, the token row and its state.
package struct CallbackTarget: Sendable, Hashable {
    /// `exports.id`.
    package var exportID: Int64
    package var clientID: String
    package var segment: String
    /// `tokens.id`; `nil` while the export's answer is not stored (or the token row was purged).
    package var tokenID: TokenID?
    package var accessToken: AccessToken?
    /// The token's state as stored (`nil` without a token row, or a state outside the schema's list).
    package var tokenState: TokenState?

    package init(
        exportID: Int64, clientID: String, segment: String, tokenID: TokenID?, accessToken: AccessToken?,
        tokenState: TokenState?
    ) {
        self.exportID = exportID
        self.clientID = clientID
        self.segment = segment
        self.tokenID = tokenID
        self.accessToken = accessToken
        self.tokenState = tokenState
    }
}

extension DaemonStore {
    /// The export whose `CallbackURL` ended in `callbackID`, or `nil` when no export has that id.
    ///
    /// A read only (no write, no `admin_seq` bump): the daemon's callback listener calls it for every
    /// well-formed id it is sent, known or not. One lookup through the partial unique index
    /// `exports_by_callback_id`.
    /// - Throws: `StoreError` when the database cannot be read.
    package func callbackTarget(callbackID: String) throws -> CallbackTarget? {
        try read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT e.id, e.client_id, e.segment, e.token_id, e.access_token, t.state
                        FROM exports e LEFT JOIN tokens t ON t.id = e.token_id
                        WHERE e.callback_id = ?
                        """, arguments: [callbackID])
            else { return nil }
            let state: String? = try row.decode(forColumn: "state")
            return CallbackTarget(
                exportID: try row.decode(forColumn: "id"), clientID: try row.decode(forColumn: "client_id"),
                segment: try row.decode(forColumn: "segment"), tokenID: try row.decode(forColumn: "token_id"),
                accessToken: try row.decode(forColumn: "access_token"),
                tokenState: state.flatMap(TokenState.init(rawValue:)))
        }
    }
}

extension TokenDatabase {
    /// `PRAGMA data_version` of this handle's connection: changes whenever another connection commits
    /// a change to the file (SQLite), so two equal readings prove nobody else wrote in between. For
    /// tests and diagnostics; open the handle `.readOnly` to keep one connection.
    /// - Throws: `StoreError` when the database cannot be read.
    package func dataVersion() throws -> Int64 {
        try read { db in try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
    }
}

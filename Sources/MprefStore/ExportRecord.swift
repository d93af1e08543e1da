import Foundation
import GRDB
import MprefCore

/// One row of `exports`: an export `mprefd export` initiated (migration 0009).
package struct ExportRecord: Sendable, Hashable, Encodable {
    package var id: Int64
    package var clientID: String
    /// The segment as stored; `nil` in ``segmentName`` when a hand edit made it invalid.
    package var segment: String
    package var label: String?
    package var state: ExportState
    package var incremental: Bool
    /// Only records changed at or after this (UTC timestamp text); `nil` for a full export.
    package var windowStart: String?
    /// When the initiate request was (last) sent (UTC timestamp text).
    package var windowEnd: String
    /// The `LastDateTime` sent, if any.
    package var lastDateTime: String?
    package var requestBody: String
    /// Initiate requests sent.
    package var attempts: Int64
    package var tokenID: TokenID?
    package var accessToken: AccessToken?
    package var createdAt: String
    package var answeredAt: String?
    package var httpStatus: Int?
    package var error: String?
    package var settledAt: String?
    /// How the token is watched once known: `nil` = `polling.deadline_s`; 0 = none.
    package var deadlineSeconds: Int64?
    package var download: Bool?
    package var globalHooks: Bool
    package var hooks: [TokenHook]
    /// Whether the `hooks` column held something other than a JSON array (edited by hand): ``hooks`` is empty then.
    package var hooksUnreadable: Bool
    /// The `mprefd export` process that sent it, and its identity (`boot_id/starttime`).
    package var senderPID: Int32?
    package var senderIdentity: String?
    /// The id ending the `CallbackURL` sent with the initiate (`callbacks.public_url`); `nil` when none was.
    package var callbackID: String?

    package var segmentName: SegmentName? { SegmentName(segment) }

    static let columns = """
        id, client_id, segment, label, state, incremental, window_start, window_end, last_date_time, request_body, attempts,
        token_id, access_token, created_at, answered_at, http_status, error, settled_at, deadline_s, download, global_hooks, hooks,
        sender_pid, sender_identity, callback_id
        """

    /// Reads a row by column name; a value edited outside the schema's rules is a `.corrupt` `StoreError`.
    init(row: Row) throws {
        func text(_ column: String) throws -> String { try row.decode(String.self, forColumn: column) }
        id = try row.decode(forColumn: "id")
        clientID = try text("client_id")
        segment = try text("segment")
        label = try row.decode(forColumn: "label")
        let stateText = try text("state")
        guard let state = ExportState(rawValue: stateText) else {
            throw StoreError(
                .corrupt,
                "exports row \(id) has state '\(stateText)'; expected one of \(ExportState.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        self.state = state
        incremental = try row.decode(Int64.self, forColumn: "incremental") != 0
        windowStart = try row.decode(forColumn: "window_start")
        windowEnd = try text("window_end")
        lastDateTime = try row.decode(forColumn: "last_date_time")
        requestBody = try text("request_body")
        attempts = try row.decode(forColumn: "attempts")
        tokenID = try row.decode(forColumn: "token_id")
        accessToken = try row.decode(forColumn: "access_token")
        createdAt = try text("created_at")
        answeredAt = try row.decode(forColumn: "answered_at")
        httpStatus = try row.decode(forColumn: "http_status")
        error = try row.decode(forColumn: "error")
        settledAt = try row.decode(forColumn: "settled_at")
        deadlineSeconds = try row.decode(forColumn: "deadline_s")
        download = try row.decode(Int64?.self, forColumn: "download").map { $0 != 0 }
        globalHooks = try row.decode(Int64.self, forColumn: "global_hooks") != 0
        // Only `--resolve` needs the hooks: an unreadable value must not stop `list` or `status`.
        let hooksText = (try? row.decode(String.self, forColumn: "hooks")) ?? ""
        let hooks = try? JSONDecoder().decode([TokenHook].self, from: Data(hooksText.utf8))
        self.hooks = hooks ?? []
        hooksUnreadable = hooks == nil
        senderPID = (try? row.decode(Int64?.self, forColumn: "sender_pid")).flatMap { $0 }.flatMap {
            Int32(exactly: $0)
        }
        senderIdentity = (try? row.decode(String?.self, forColumn: "sender_identity")).flatMap { $0 }
        callbackID = (try? row.decode(String?.self, forColumn: "callback_id")).flatMap { $0 }
    }

    enum CodingKeys: String, CodingKey {
        case id, label, state, incremental, attempts, error, download, hooks
        case clientID = "client_id", segment, windowStart = "window_start", windowEnd = "window_end", lastDateTime =
            "last_date_time"
        case tokenID = "token_id", accessToken = "access_token", createdAt = "created_at", answeredAt = "answered_at"
        case httpStatus = "http_status", settledAt = "settled_at", deadlineSeconds = "deadline_s", globalHooks =
            "global_hooks"
    }

    /// Every key, `null` for a missing value (scripts see stable keys); the request body is left out.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(clientID, forKey: .clientID)
        try c.encode(segment, forKey: .segment)
        try c.encode(label, forKey: .label)
        try c.encode(state, forKey: .state)
        try c.encode(incremental, forKey: .incremental)
        try c.encode(windowStart, forKey: .windowStart)
        try c.encode(windowEnd, forKey: .windowEnd)
        try c.encode(lastDateTime, forKey: .lastDateTime)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(tokenID, forKey: .tokenID)
        try c.encode(accessToken, forKey: .accessToken)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(answeredAt, forKey: .answeredAt)
        try c.encode(httpStatus, forKey: .httpStatus)
        try c.encode(error, forKey: .error)
        try c.encode(settledAt, forKey: .settledAt)
        try c.encode(deadlineSeconds, forKey: .deadlineSeconds)
        try c.encode(download, forKey: .download)
        try c.encode(globalHooks, forKey: .globalHooks)
        try c.encode(hooks, forKey: .hooks)
    }
}

/// One row of `cursors`: where a segment's next incremental window starts.
package struct CursorRecord: Sendable, Hashable, Encodable {
    package var clientID: String
    package var segment: String
    /// UTC timestamp text.
    package var position: String
    package var exportID: Int64?
    package var setBy: CursorSource
    package var updatedAt: String

    init(row: Row) throws {
        clientID = try row.decode(forColumn: "client_id")
        segment = try row.decode(forColumn: "segment")
        position = try row.decode(forColumn: "position")
        exportID = try row.decode(forColumn: "export_id")
        let source: String = try row.decode(forColumn: "set_by")
        guard let setBy = CursorSource(rawValue: source) else {
            throw StoreError(
                .corrupt, "the cursor of \(clientID)/\(segment) has set_by '\(source)'; expected delivery or reset")
        }
        self.setBy = setBy
        updatedAt = try row.decode(forColumn: "updated_at")
    }

    enum CodingKeys: String, CodingKey {
        case clientID = "client_id", segment, position, exportID = "export_id", setBy = "set_by", updatedAt =
            "updated_at"
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(clientID, forKey: .clientID)
        try c.encode(segment, forKey: .segment)
        try c.encode(position, forKey: .position)
        try c.encode(exportID, forKey: .exportID)
        try c.encode(setBy, forKey: .setBy)
        try c.encode(updatedAt, forKey: .updatedAt)
    }
}

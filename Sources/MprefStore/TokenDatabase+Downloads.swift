import Foundation
import GRDB
import MprefCore

/// One `downloads` row: a download's checkpoint and outcome. Every count is exact (`records` and
/// `bytes` describe the file's durable prefix, never more).
package struct DownloadCheckpoint: Sendable, Hashable {
    package var tokenID: TokenID
    /// The final path, `<directory>/<client ID>/<access token>.ndjson`; the partial file is this + `.partial`.
    package var file: String
    package var phase: DownloadPhase
    package var startedAt: Date
    /// 1-based offset of the next page to ask for.
    package var nextOffset: Int64
    /// Records stored (the file's first `bytes` bytes hold exactly these).
    package var records: Int64
    /// Bytes of the file covered by this checkpoint.
    package var bytes: Int64
    /// Hex SHA-256 of the file's first `bytes` bytes; `nil` while `bytes` is 0.
    package var sha256Prefix: String?
    /// `TotalResults` of the latest page; `nil` before the first.
    package var totalResults: Int64?
    /// Pages stored.
    package var pages: Int64
    /// Hex SHA-256 of the verified file.
    package var sha256: String?
    package var verifiedAt: Date?
    package var committedAt: Date?
    /// The `keepFiles` sent with the commit.
    package var keepFiles: Bool?
    package var lastError: String?
    /// When `download.retention_days` removed the delivered file.
    package var fileDeletedAt: Date?

    package init(
        tokenID: TokenID, file: String, phase: DownloadPhase = .fetching, startedAt: Date, nextOffset: Int64 = 1,
        records: Int64 = 0, bytes: Int64 = 0, sha256Prefix: String? = nil, totalResults: Int64? = nil, pages: Int64 = 0,
        sha256: String? = nil, verifiedAt: Date? = nil, committedAt: Date? = nil, keepFiles: Bool? = nil,
        lastError: String? = nil,
        fileDeletedAt: Date? = nil
    ) {
        self.fileDeletedAt = fileDeletedAt
        self.tokenID = tokenID
        self.file = file
        self.phase = phase
        self.startedAt = startedAt
        self.nextOffset = nextOffset
        self.records = records
        self.bytes = bytes
        self.sha256Prefix = sha256Prefix
        self.totalResults = totalResults
        self.pages = pages
        self.sha256 = sha256
        self.verifiedAt = verifiedAt
        self.committedAt = committedAt
        self.keepFiles = keepFiles
        self.lastError = lastError
    }

    /// The file being written: ``file`` + `.partial`.
    package var partialFile: String { file + ".partial" }

    static let columns = """
        token_id, file, phase, started_at, next_offset, records, bytes, sha256_prefix, total_results, pages, sha256,
        verified_at, committed_at, keep_files, last_error, file_deleted_at
        """

    /// Reads a row holding ``columns``; a row edited into something unusable throws `StoreError.corrupt`
    /// naming the column (the download then fails with that message instead of guessing).
    static func decode(_ row: Row) throws -> DownloadCheckpoint {
        func column<T: DatabaseValueConvertible>(_ name: String, _: T.Type) throws -> T {
            do { return try row.decode(T.self, forColumn: name) } catch {
                throw StoreError(
                    .corrupt,
                    "downloads.\(name) cannot be read (\(error)); fix it with sqlite3 or run `mprefd download --retry` to start over"
                )
            }
        }
        func time(_ name: String) throws -> Date? {
            guard let text = try column(name, String?.self) else { return nil }
            guard let date = Timestamp.parse(text) else {
                throw StoreError(
                    .corrupt, "downloads.\(name) holds \(text.prefix(40)); expected a UTC time YYYY-MM-DDTHH:MM:SS.sssZ"
                )
            }
            return date
        }
        let phaseText = try column("phase", String.self)
        guard let phase = DownloadPhase(rawValue: phaseText) else {
            throw StoreError(
                .corrupt,
                "downloads.phase holds \(phaseText.prefix(40)); expected one of \(DownloadPhase.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        guard let started = try time("started_at") else { throw StoreError(.corrupt, "downloads.started_at is NULL") }
        return DownloadCheckpoint(
            tokenID: TokenID(try column("token_id", Int64.self)), file: try column("file", String.self), phase: phase,
            startedAt: started,
            nextOffset: max(1, try column("next_offset", Int64.self)),
            records: max(0, try column("records", Int64.self)),
            bytes: max(0, try column("bytes", Int64.self)), sha256Prefix: try column("sha256_prefix", String?.self),
            totalResults: try column("total_results", Int64?.self), pages: max(0, try column("pages", Int64.self)),
            sha256: try column("sha256", String?.self), verifiedAt: try time("verified_at"),
            committedAt: try time("committed_at"),
            keepFiles: try column("keep_files", Int64?.self).map { $0 != 0 },
            lastError: try column("last_error", String?.self),
            fileDeletedAt: try time("file_deleted_at"))
    }
}

/// One page or commit request of a download, for the `download_requests` history.
package struct DownloadRequestRecord: Sendable, Hashable {
    package enum Kind: String, Sendable { case page, commit }
    package var requestedAt: Date
    package var kind: Kind
    package var pageOffset: Int64?
    package var httpStatus: Int?
    package var records: Int64?
    package var bytes: Int64?
    package var totalResults: Int64?
    package var latencyMs: Int64?
    /// Seconds.
    package var retryAfterS: Double?
    /// Seconds; `nil` when the download stopped.
    package var nextDelayS: Double?
    /// One of the `download_requests.outcome` values (the poll outcomes: `ok`, `unavailable`, …).
    package var outcome: OutcomeKind
    package var error: String?

    package init(
        requestedAt: Date, kind: Kind, pageOffset: Int64?, httpStatus: Int?, records: Int64?, bytes: Int64?,
        totalResults: Int64?,
        latencyMs: Int64?, retryAfterS: Double?, nextDelayS: Double?, outcome: OutcomeKind, error: String?
    ) {
        self.requestedAt = requestedAt
        self.kind = kind
        self.pageOffset = pageOffset
        self.httpStatus = httpStatus
        self.records = records
        self.bytes = bytes
        self.totalResults = totalResults
        self.latencyMs = latencyMs
        self.retryAfterS = retryAfterS
        self.nextDelayS = nextDelayS
        self.outcome = outcome
        self.error = error
    }
}

/// What one download step stores, in one transaction: its request (if it sent one), the new
/// checkpoint, the token row's new values and, for a terminal state, the hook runs.
package struct DownloadWrite: Sendable, Hashable {
    package var tokenID: TokenID
    package var request: DownloadRequestRecord?
    /// The new checkpoint; `nil` leaves the `downloads` row as it is (a row that cannot be read, or none).
    package var checkpoint: DownloadCheckpoint?
    package var newState: TokenState
    package var nextPollAt: Date?
    package var consecutiveErrors: Int
    package var consecutiveNotFound: Int
    package var lastError: String?
    package var at: Date

    package init(
        tokenID: TokenID, request: DownloadRequestRecord?, checkpoint: DownloadCheckpoint?, newState: TokenState,
        nextPollAt: Date?,
        consecutiveErrors: Int, consecutiveNotFound: Int, lastError: String?, at: Date
    ) {
        self.tokenID = tokenID
        self.request = request
        self.checkpoint = checkpoint
        self.newState = newState
        self.nextPollAt = nextPollAt
        self.consecutiveErrors = consecutiveErrors
        self.consecutiveNotFound = consecutiveNotFound
        self.lastError = lastError
        self.at = at
    }
}

extension AdminStore {
    /// The download row of token `tokenID` (for `show` and `download`), or `nil` when it has none.
    /// - Throws: `StoreError.corrupt` when the row cannot be read (see ``DownloadCheckpoint``).
    package func downloadCheckpoint(tokenID: TokenID) throws -> DownloadCheckpoint? {
        try read { db in try Self.checkpoint(tokenID: tokenID, db) }
    }

}

extension StoreView {
    static func checkpoint(tokenID: TokenID, _ db: Database) throws -> DownloadCheckpoint? {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT \(DownloadCheckpoint.columns) FROM downloads WHERE token_id = ?", arguments: [tokenID])
        else {
            return nil
        }
        return try DownloadCheckpoint.decode(row)
    }

}

extension DaemonStore {
    /// The download row of token `tokenID`, created (phase `fetching`, nothing stored) when missing.
    package func startDownload(tokenID: TokenID, file: String, at now: Date) async throws -> DownloadCheckpoint {
        try await asyncWrite { db in
            let nowText = Timestamp.format(now)
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO downloads (token_id, file, phase, started_at, updated_at)
                    SELECT ?, ?, 'fetching', ?, ? WHERE EXISTS (SELECT 1 FROM tokens WHERE id = ?)
                    """, arguments: [tokenID, file, nowText, nowText, tokenID])
            guard let checkpoint = try Self.checkpoint(tokenID: tokenID, db) else {
                throw StoreError(.notFound, "token \(tokenID) is gone (removed with --purge)")
            }
            return checkpoint
        }
    }

    /// Stores one download step in ONE transaction: appends its request to `download_requests`,
    /// writes the checkpoint, updates the token (only while it is still `downloading`: an admin
    /// pause or remove meanwhile wins), inserts the hook runs of a terminal state, and stores
    /// `pauses` as ``recordPolls(_:pauses:hooks:)`` does.
    /// - Returns: whether the token row was updated, and how many hook runs were queued.
    package func recordDownload(_ w: DownloadWrite, pauses: [PauseRecord], hooks planner: @escaping HookPlanner)
        async throws -> (tokenUpdated: Bool, hookRuns: Int)
    {
        try await asyncWrite { db in
            let at = Timestamp.format(w.at)
            if let r = w.request {
                try db.execute(
                    sql: """
                        INSERT INTO download_requests (token_id, requested_at, request, page_offset, http_status, records, bytes, total_results,
                                                       latency_ms, retry_after_s, next_delay_s, outcome, error)
                        SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13 WHERE EXISTS (SELECT 1 FROM tokens WHERE id = ?1)
                        """,
                    arguments: [
                        w.tokenID, Timestamp.format(r.requestedAt), r.kind.rawValue, r.pageOffset, r.httpStatus,
                        r.records, r.bytes,
                        r.totalResults, r.latencyMs, r.retryAfterS, r.nextDelayS, r.outcome.rawValue, r.error,
                    ])
            }
            if let c = w.checkpoint {
                try db.execute(
                    sql: """
                        UPDATE downloads SET phase = ?, next_offset = ?, records = ?, bytes = ?, sha256_prefix = ?, total_results = ?, pages = ?,
                               sha256 = ?, verified_at = ?, committed_at = ?, keep_files = ?, last_error = ?, updated_at = ?
                        WHERE token_id = ?
                        """,
                    arguments: [
                        c.phase.rawValue, c.nextOffset, c.records, c.bytes, c.sha256Prefix, c.totalResults, c.pages,
                        c.sha256,
                        c.verifiedAt.map(Timestamp.format), c.committedAt.map(Timestamp.format), c.keepFiles,
                        c.lastError, at, w.tokenID,
                    ])
            }
            try db.execute(
                sql: """
                    UPDATE tokens SET state = ?, last_polled_at = ?, next_poll_at = ?, consecutive_errors = ?, consecutive_not_found = ?,
                           last_error = ?, finished_at = ?
                    WHERE id = ? AND state = 'downloading'
                    """,
                arguments: [
                    w.newState.rawValue, at, w.nextPollAt.map(Timestamp.format), w.consecutiveErrors,
                    w.consecutiveNotFound,
                    w.lastError, w.newState.isTerminal ? at : nil, w.tokenID,
                ])
            let updated = db.changesCount > 0
            var hookRuns = 0
            if updated, w.newState.isTerminal {
                hookRuns = try Self.insertHookRuns(
                    tokenID: w.tokenID, state: w.newState, at: at, planner: planner, db: db)
            }
            try Self.storePauses(pauses, db)
            return (updated, hookRuns)
        }
    }

}

extension AdminStore {
    /// Re-arms failed downloads (`mprefd download --retry`): each token in `download_failed` (or
    /// `expired` with a download row) goes back to `downloading` from its checkpoint, due now.
    /// Returns the tokens re-armed.
    /// With `fromStart`, the checkpoint is dropped: the download begins again at offset 1 (the
    /// `.partial` file is cut to nothing at its first step).
    package func retryDownloads(tokenIDs: [TokenID], fromStart: Bool = false, now: Date = .now) throws -> [TokenID] {
        try write { db in
            let nowText = Timestamp.format(now)
            let seq = try Self.nextAdminSeq(db)
            var rearmed: [TokenID] = []
            for id in tokenIDs {
                try db.execute(
                    sql: """
                        UPDATE tokens SET state = 'downloading', next_poll_at = ?, finished_at = NULL, consecutive_errors = 0,
                               consecutive_not_found = 0, last_error = NULL, admin_seq = ?
                        WHERE id = ? AND (state = 'download_failed'
                                          OR (state = 'expired' AND EXISTS (SELECT 1 FROM downloads WHERE token_id = ?)))
                        """, arguments: [nowText, seq, id, id])
                guard db.changesCount > 0 else { continue }
                if fromStart { try db.execute(sql: "DELETE FROM downloads WHERE token_id = ?", arguments: [id]) }
                try db.execute(
                    sql: """
                        UPDATE downloads SET phase = CASE WHEN sha256 IS NOT NULL THEN 'committing' ELSE 'fetching' END,
                               last_error = NULL, updated_at = ? WHERE token_id = ?
                        """, arguments: [nowText, id])
                rearmed.append(id)
            }
            return rearmed
        }
    }

    /// Readies token `tokenID` for `mprefd download` (one-shot): state `downloading`, due now; its
    /// download row is kept when it is a partial download to the same `file` (resumed), else
    /// replaced by a fresh one. Only for a completed export (`complete`, `downloading`,
    /// `download_failed`, `expired` with a download row).
    /// - Returns: false when the token is in another state (still processing, failed, removed, …).
    package func prepareDownload(tokenID: TokenID, file: String, now: Date = .now) throws -> Bool {
        try write { db in
            let nowText = Timestamp.format(now)
            let seq = try Self.nextAdminSeq(db)
            try db.execute(
                sql: """
                    UPDATE tokens SET state = 'downloading', next_poll_at = ?, finished_at = NULL, consecutive_errors = 0,
                           consecutive_not_found = 0, last_error = NULL, admin_seq = ?
                    WHERE id = ? AND (state IN ('complete', 'downloading', 'download_failed')
                                      OR (state = 'expired' AND EXISTS (SELECT 1 FROM downloads WHERE token_id = ?)))
                    """, arguments: [nowText, seq, tokenID, tokenID])
            guard db.changesCount > 0 else { return false }
            try db.execute(
                sql: """
                    DELETE FROM downloads WHERE token_id = ? AND (file <> ? OR phase = 'committed')
                    """, arguments: [tokenID, file])
            try db.execute(
                sql: """
                    UPDATE downloads SET phase = CASE WHEN sha256 IS NOT NULL THEN 'committing' ELSE 'fetching' END,
                           last_error = NULL, updated_at = ? WHERE token_id = ?
                    """, arguments: [nowText, tokenID])
            return true
        }
    }

}

extension DaemonStore {
    /// Delivered files of `clientID` committed before `cutoff` whose hook runs all succeeded (or that
    /// have none) and that are still on disk: what `download.retention_days` removes, oldest first.
    package func deliveredFilesToRemove(clientID: ClientID, before cutoff: Date, limit: Int) async throws -> [(
        tokenID: TokenID, file: String
    )] {
        try await asyncRead { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT d.token_id, d.file FROM downloads d JOIN tokens t ON t.id = d.token_id
                    WHERE d.phase = 'committed' AND d.file_deleted_at IS NULL AND d.committed_at < ? AND t.client_id = ?
                      AND NOT EXISTS (SELECT 1 FROM hook_runs h WHERE h.token_id = d.token_id AND h.state <> 'succeeded')
                    ORDER BY d.committed_at LIMIT ?
                    """, arguments: [Timestamp.format(cutoff), clientID, limit]
            )
            .compactMap { row in
                guard let id = try? row.decode(TokenID.self, forColumn: "token_id"),
                    let file = try? row.decode(String.self, forColumn: "file")
                else { return nil }
                return (id, file)
            }
        }
    }

    /// Records that the delivered file of `tokenID` was removed by retention.
    package func markFileDeleted(tokenID: TokenID, at now: Date) async throws {
        try await asyncWrite { db in
            try db.execute(
                sql: "UPDATE downloads SET file_deleted_at = ? WHERE token_id = ?",
                arguments: [Timestamp.format(now), tokenID])
        }
    }

}

extension TokenLookup {
    /// The checkpoints of tokens in state `downloading`, by token id (for `list` and `status`).
    /// Rows that cannot be read are left out (`show` names their defect).
    package func downloadsInProgress() throws -> [TokenID: DownloadCheckpoint] {
        try read { db in
            var result: [TokenID: DownloadCheckpoint] = [:]
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT \(DownloadCheckpoint.columns) FROM downloads
                    WHERE token_id IN (SELECT id FROM tokens WHERE state = 'downloading')
                    """)
            while let row = try rows.next() {
                if let checkpoint = try? DownloadCheckpoint.decode(row) { result[checkpoint.tokenID] = checkpoint }
            }
            return result
        }
    }

}

extension DaemonStore {
    /// Records, before the commit request is sent, that it is being sent (`keep_files`), so that a
    /// restart after a lost answer knows a commit may have happened.
    package func markCommitSent(tokenID: TokenID, keepFiles: Bool) async throws {
        try await asyncWrite { db in
            try db.execute(
                sql: "UPDATE downloads SET keep_files = ? WHERE token_id = ?", arguments: [keepFiles, tokenID])
        }
    }
}

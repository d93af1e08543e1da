import Foundation
import MprefCore
import GRDB

/// A host or account pause an operator lifted before its end (`mprefd resume --host` / `--account`).
package struct PauseLift: Sendable, Hashable {
    /// `host` or `account`, as in `pauses.scope`.
    package var scope: PauseScope
    /// `scheme://host:port` for a host, the client ID for an account: as in `pauses.subject`.
    package var subject: String
    /// When it was lifted (wall clock). A pause that started after this is a new one and stays.
    package var liftedAt: Date

    package init(scope: PauseScope, subject: String, liftedAt: Date) {
        self.scope = scope
        self.subject = subject
        self.liftedAt = liftedAt
    }
}

/// What `adminChanges(since:)` found above the high-water mark.
package struct AdminChanges: Sendable, Hashable {
    /// Tokens added, paused, resumed, removed or purged.
    package var tokens: [TokenChange] = []
    /// Pauses lifted early.
    package var pauseLifts: [PauseLift] = []
    /// The new high-water mark (an `admin_sequence` value).
    package var seq: Int64

    package var isEmpty: Bool { tokens.isEmpty && pauseLifts.isEmpty }
}

extension AdminStore {
    /// Lifts the host or account pauses named by `subjects` (`scope`: `host` or `account`; `subject`
    /// as in `pauses.subject`) in one transaction: deletes their `pauses` rows and logs each lift in
    /// `pause_lifts` under the next admin sequence value, so a running daemon polls that host or
    /// account again within `adminCheckInterval` (0.5 s). Lift log rows older than a day are pruned.
    ///
    /// - Returns: `lifted`, the pauses that were in force at `now` and are now lifted, in the order
    ///   asked (a subject with no pause in force is left out and changes nothing); `remaining`, the
    ///   pauses still in force, for telling the operator what a subject that matched nothing could be.
    /// - Throws: `StoreError` (`.busy` after the busy timeout, `.cannotOpen` when read-only).
    package func liftPauses(_ subjects: [(scope: PauseScope, subject: String)], now: Date = .now) throws -> (
        lifted: [PauseRecord], remaining: [PauseRecord]
    ) {
        let nowText = Timestamp.format(now)
        return try write { db in
            let inForce = try PauseRecord.fetchInForce(db, now: now)
            var lifted: [PauseRecord] = []
            var seq: Int64?
            for (scope, subject) in subjects {
                guard let pause = inForce.first(where: { $0.scope == scope && $0.subject == subject }),
                    !lifted.contains(pause)
                else { continue }
                let liftSeq = try seq ?? Self.nextAdminSeq(db)
                seq = liftSeq
                try db.execute(
                    sql: "DELETE FROM pauses WHERE scope = ? AND subject = ?", arguments: [scope.rawValue, subject])
                try db.execute(
                    sql: "INSERT INTO pause_lifts (scope, subject, admin_seq, lifted_at) VALUES (?, ?, ?, ?)",
                    arguments: [scope.rawValue, subject, liftSeq, nowText])
                lifted.append(pause)
            }
            if seq != nil {
                try db.execute(
                    sql: "DELETE FROM pause_lifts WHERE lifted_at < ?",
                    arguments: [Timestamp.format(now.addingTimeInterval(-86_400))])
            }
            return (lifted, inForce.filter { !lifted.contains($0) })
        }
    }

}

extension DaemonStore {
    /// Pause lifts logged after `seq`, with the highest admin sequence value among them (`seq` if none).
    static func pauseLifts(since seq: Int64, _ db: Database) throws -> (lifts: [PauseLift], seq: Int64) {
        var high = seq
        var lifts: [PauseLift] = []
        for row in try Row.fetchAll(
            db,
            sql: "SELECT scope, subject, lifted_at, admin_seq FROM pause_lifts WHERE admin_seq > ? ORDER BY admin_seq",
            arguments: [seq])
        {
            high = max(high, (try? row.decode(Int64.self, forColumn: "admin_seq")) ?? high)
            guard let liftedAt = (try? row.decode(String.self, forColumn: "lifted_at")).flatMap(Timestamp.parse),
                let scope = (try? row.decode(String.self, forColumn: "scope")).flatMap(PauseScope.init(rawValue:)),
                let subject = try? row.decode(String.self, forColumn: "subject")
            else { continue }
            lifts.append(PauseLift(scope: scope, subject: subject, liftedAt: liftedAt))
        }
        return (lifts, high)
    }
}

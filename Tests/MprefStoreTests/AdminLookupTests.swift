import Foundation
import GRDB
import MprefCore
import MprefTestSupport
import Testing
@testable import MprefStore

/// Issue 17.11: admin commands without `--client-id` look tokens up by `access_token` alone; that
/// must be one set-based query through an index, not a table scan per token.
@Suite struct AdminLookupTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    /// The query plan of the lookup, with and without a client ID, on a migrated database.
    func plan(withClientID: Bool, _ db: TokenDatabase) throws -> String {
        let sql = "EXPLAIN QUERY PLAN " + AdminStore.findByAccessTokensSQL(withClientID: withClientID)
        let arguments: StatementArguments = withClientID ? ["[1]", "ACME_Co"] : ["[1]"]
        return try db.read { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { $0["detail"] as String }.joined(separator: "\n")
        }
    }

    @Test func theLookupByAccessTokenSearchesAnIndexInsteadOfScanningTokens() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        for withClientID in [false, true] {
            let detail = try plan(withClientID: withClientID, db)
            #expect(!detail.contains("SCAN tokens"), "\(detail)")
            #expect(detail.contains("SEARCH tokens USING"), "\(detail)")
        }
        let indexes = try db.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tokens'")
        }
        #expect(indexes.contains("tokens_by_access_token"))
    }

    @Test func oneLookupFindsEveryTokenUnderEveryClientIDInOrder() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        _ = try AdminStore(db).addTokens(
            (1...500).map { NewToken(clientID: "ACME_Co", accessToken: AccessToken(Int64($0))) }
                + [NewToken(clientID: "Beta_Inc", accessToken: 7)], reset: false, now: now)
        let found = try AdminStore(db).findTokens(accessTokens: [300, 7, 9_999, 2], clientID: nil)
        #expect(
            found.map { "\($0.clientID)/\($0.accessToken)" } == ["ACME_Co/2", "ACME_Co/7", "Beta_Inc/7", "ACME_Co/300"])
        let one = try AdminStore(db).findTokens(accessTokens: [7, 300], clientID: "Beta_Inc")
        #expect(one.map(\.accessToken) == [7])
        #expect(try AdminStore(db).findTokens(accessTokens: [], clientID: nil).isEmpty)
    }

    @Test func setBasedStateChangesReportOnlyTheRowsChangedAndRecordPurges() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let ids = try AdminStore(db).addTokens(
            (1...2_000).map { NewToken(clientID: "ACME_Co", accessToken: AccessToken(Int64($0))) }, reset: false,
            now: now
        ).map(\.token.id)
        #expect(Set(try AdminStore(db).changeState(.pause, tokenIDs: Array(ids[0..<10]))) == Set(ids[0..<10]))
        #expect(Set(try AdminStore(db).changeState(.pause, tokenIDs: Array(ids[5..<15]))) == Set(ids[10..<15]))
        #expect(Set(try AdminStore(db).changeState(.resume, tokenIDs: Array(ids[0..<20]))) == Set(ids[0..<15]))
        #expect(Set(try AdminStore(db).changeState(.remove, tokenIDs: [ids[0], ids[0]])) == [ids[0]])
        let purged = try AdminStore(db).changeState(.purge, tokenIDs: ids + [999_999])
        #expect(Set(purged) == Set(ids))
        let (left, recorded) = try db.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM tokens") ?? -1,
                try Int.fetchOne(db, sql: "SELECT count(DISTINCT token_id) FROM purged_tokens") ?? -1
            )
        }
        #expect(left == 0)
        #expect(recorded == 2_000)
    }
}

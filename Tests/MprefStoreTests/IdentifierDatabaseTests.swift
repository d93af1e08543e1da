import Foundation
import GRDB
import MprefCore
import MprefTestSupport
import Testing
@testable import MprefStore

/// Issue 13 §1: the identifiers bind and read as SQLite values directly; a value a hand edit left in a
/// column that cannot be the identifier is refused (`nil`, a thrown decoding error), never a trap.
@Suite struct IdentifierDatabaseTests {
    @Test func identifiersRoundTripThroughARealDatabaseFile() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let queue = try DatabaseQueue(path: dir.databasePath)
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (id INTEGER, token INTEGER, client TEXT)")
            try db.execute(
                sql: "INSERT INTO t VALUES (?, ?, ?)",
                arguments: [TokenID(41), AccessToken(.max), ClientID("ACME_Co")])
            let row = try #require(try Row.fetchOne(db, sql: "SELECT id, token, client, typeof(token) AS kind FROM t"))
            #expect(try row.decode(TokenID.self, forColumn: "id") == TokenID(41))
            #expect(try row.decode(AccessToken.self, forColumn: "token") == AccessToken(.max))
            #expect(try row.decode(ClientID.self, forColumn: "client") == ClientID("ACME_Co"))
            #expect(try row.decode(String.self, forColumn: "kind") == "integer")
            #expect(try AccessToken.fetchAll(db, sql: "SELECT token FROM t") == [AccessToken(.max)])
        }
    }

    /// Values of the wrong kind, out of range or breaking the rule, as sqlite3 could leave them.
    @Test(arguments: ["'abc'", "'12'", "1.5", "1e30", "NULL", "X'01'", "0", "-7"])
    func unusableAccessTokensAreRefused(_ literal: String) throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let queue = try DatabaseQueue(path: dir.databasePath)
        try queue.read { db in
            let row = try #require(try Row.fetchOne(db, sql: "SELECT \(literal) AS v"))
            #expect(AccessToken.fromDatabaseValue(row["v"]) == nil)
            #expect(throws: (any Error).self) { try row.decode(AccessToken.self, forColumn: "v") }
        }
    }

    @Test(arguments: ["'abc'", "'12'", "1.5", "1e30", "NULL", "X'01'"])
    func unusableTokenIDsAreRefused(_ literal: String) throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let queue = try DatabaseQueue(path: dir.databasePath)
        try queue.read { db in
            let row = try #require(try Row.fetchOne(db, sql: "SELECT \(literal) AS v"))
            #expect(TokenID.fromDatabaseValue(row["v"]) == nil)
            #expect(throws: (any Error).self) { try row.decode(TokenID.self, forColumn: "v") }
        }
    }

    @Test(arguments: [
        "'a/b'", "'..'", "'x y'", "''", "12", "1.5", "NULL", "X'61'", "'\(String(repeating: "a", count: 129))'",
    ])
    func clientIDsBreakingTheRuleAreRefused(_ literal: String) throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let queue = try DatabaseQueue(path: dir.databasePath)
        try queue.read { db in
            let row = try #require(try Row.fetchOne(db, sql: "SELECT \(literal) AS v"))
            #expect(ClientID.fromDatabaseValue(row["v"]) == nil)
            #expect(throws: (any Error).self) { try row.decode(ClientID.self, forColumn: "v") }
        }
    }
}

import Foundation
import Synchronization
import MprefTestSupport
import Testing
@testable import MprefStore
import GRDB
import MprefCore

/// `list --json` prints rows as SQLite's `json_object` builds them; they must say exactly what
/// `TokenRecord`'s `Encodable` says (every key, `null` for NULL, booleans), for every kind of row.
@Suite struct TokenJSONTests {
    @Test func sqliteBuiltJSONMatchesTheRecordsEncoding() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let now = Date(timeIntervalSince1970: 1_780_000_000)
        _ = try AdminStore(db).addTokens(
            [
                NewToken(clientID: "ACME_Co", accessToken: 1, label: "quote \" backslash \\ slash / é ☃"),
                NewToken(clientID: "ACME_Co", accessToken: AccessToken(.max), globalHooks: false),
                NewToken(clientID: "Other", accessToken: 3),
            ], reset: false, now: now)
        try db.write { db in
            try db.execute(
                sql: """
                    UPDATE tokens SET state = 'complete', last_status = 'Complete', row_count = 9007199254740993,
                           byte_count = 0, finished_at = '2026-01-01T00:00:00.000Z', attempt = 4, last_error = 'line1
                    line2'
                    WHERE access_token = 3
                    """)
        }
        let records = try AdminStore(db).listTokens()
        let lines = Mutex<[String]>([])
        try AdminStore(db).forEachTokenJSON { line in lines.withLock { $0.append(line) } }
        let objects = lines.withLock { $0 }
        #expect(objects.count == records.count)
        #expect(objects.allSatisfy { !$0.contains("\n") })

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for (line, record) in zip(objects, records) {
            let fromSQLite = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? NSDictionary
            let fromEncoder = try JSONSerialization.jsonObject(with: encoder.encode(record)) as? NSDictionary
            #expect(fromSQLite == fromEncoder, "\(line)")
            #expect(try JSONDecoder().decode(TokenRecord.self, from: Data(line.utf8)) == record)
        }
        // Filters select the same rows as listTokens'.
        let complete = Mutex(0)
        try AdminStore(db).forEachTokenJSON(state: .complete) { _ in complete.withLock { $0 += 1 } }
        #expect(complete.withLock { $0 } == 1)
        let acme = Mutex(0)
        try AdminStore(db).forEachTokenJSON(clientID: "ACME_Co") { _ in acme.withLock { $0 += 1 } }
        let acmeRecords = try AdminStore(db).listTokens(clientID: "ACME_Co")
        #expect(acme.withLock { $0 } == acmeRecords.count)
    }
}

import Foundation
import MprefCore
import Testing

@testable import MyPreferencesSimulator
import NIOHTTP1

extension MyPreferencesSimulator {
    /// `POST {baseURL}/Async/{clientID}/Export/Segment/{segment}` (or the API/3 form) with an optional JSON body.
    func initiate(
        clientID: String = "ACME_Co", segment: String, body: String? = nil, api3: Bool = false,
        headers: [(String, String)] = []
    ) async throws -> SimpleResponse {
        let name = segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? segment
        let path = api3 ? "/\(clientID)/export/Segment/\(name)" : "/Async/\(clientID)/Export/Segment/\(name)"
        let contentType: [(String, String)] = body == nil ? [] : [("Content-Type", "application/json")]
        return try await TestHTTP.send("\(baseURL)\(path)", method: .POST, headers: headers + contentType, body: body)
    }

    /// Initiates and returns the access token of a 200 answer.
    func initiatedToken(clientID: String = "ACME_Co", segment: String, body: String? = nil, api3: Bool = false)
        async throws -> Int64
    {
        let response = try await initiate(clientID: clientID, segment: segment, body: body, api3: api3)
        try #require(response.status == 200, "\(response.status) \(response.body)")
        return try #require((try jsonObject(response.body)["AccessToken"] as? NSNumber)?.int64Value)
    }

    /// Polls once and returns (Status, RowCount, ByteCount).
    func statusCounts(clientID: String = "ACME_Co", accessToken: Int64) async throws -> (
        status: String, rows: Int64, bytes: Int64
    ) {
        let response = try await pollStatus(clientID: clientID, accessToken: String(accessToken))
        try #require(response.status == 200, "\(response.status) \(response.body)")
        let object = try jsonObject(response.body)
        return (
            try #require(object["Status"] as? String),
            try #require((object["RowCount"] as? NSNumber)?.int64Value),
            try #require((object["ByteCount"] as? NSNumber)?.int64Value)
        )
    }

    /// Every record of a downloaded export, as served.
    func downloadRecords(clientID: String = "ACME_Co", accessToken: Int64, limit: Int64 = 1000) async throws -> [String]
    {
        try await downloadAll(clientID: clientID, accessToken: accessToken, limit: limit, keepAlive: true).flatMap(
            \.records)
    }
}

/// The canonical file of `records`: each record's bytes plus `\n`.
func canonicalFile(_ records: [String]) -> [UInt8] {
    records.flatMap { Array($0.utf8) + [UInt8(ascii: "\n")] }
}

/// `ModifiedDate` of a record's JSON text.
func modifiedDate(_ record: String) throws -> String {
    try #require(try jsonObject(record)["ModifiedDate"] as? String)
}

/// `ProfileId` of a record's JSON text (exact: read from the text, not through a Double).
func profileID(_ record: String) throws -> Int64 {
    let prefix = "{\"ProfileId\":"
    try #require(record.hasPrefix(prefix))
    return try #require(Int64(record.dropFirst(prefix.count).prefix { $0.isNumber }))
}

/// `start + milliseconds` as the simulator writes change times.
func timestamp(_ start: Date, plusMilliseconds milliseconds: Int64) -> String {
    Timestamp.format(Date(timeIntervalSince1970: Double(WallClock.milliseconds(start) + milliseconds) / 1000 + 0.0001))
}

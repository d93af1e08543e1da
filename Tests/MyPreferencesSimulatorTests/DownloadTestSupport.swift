import AsyncHTTPClient
import Crypto
import Foundation
import NIOHTTP1
import Testing

@testable import MyPreferencesSimulator

/// A page answer split into its header values and its records' raw bytes (never re-encoded).
struct DownloadedPage {
    var count: Int64
    var hasMore: Bool
    var limit: Int64
    var offset: Int64
    var total: Int64
    /// Each record's JSON text exactly as served.
    var records: [String]

    /// Parses a page body; `recordsKey` names the record array (`UserProfilePreferences`, `preferences`, …).
    init(_ body: String, lowercaseKeys: Bool = false, recordsKey: String = "UserProfilePreferences") throws {
        let object = try jsonObject(body)
        func key(_ name: String) -> String { lowercaseKeys ? name.prefix(1).lowercased() + name.dropFirst() : name }
        count = try #require((object[key("Count")] as? NSNumber)?.int64Value)
        hasMore = try #require(object[key("HasMore")] as? Bool)
        limit = try #require((object[key("Limit")] as? NSNumber)?.int64Value)
        offset = try #require((object[key("Offset")] as? NSNumber)?.int64Value)
        total = try #require((object[key("TotalResults")] as? NSNumber)?.int64Value)
        records = try Self.rawElements(of: recordsKey, in: body)
    }

    /// The raw texts of the top-level elements of the array `"key":[…]`, by scanning bytes (strings and nesting aware).
    static func rawElements(of key: String, in body: String) throws -> [String] {
        let bytes = Array(body.utf8)
        let marker = Array("\"\(key)\":[".utf8)
        var start =
            try #require((0...(bytes.count - marker.count)).first { Array(bytes[$0..<($0 + marker.count)]) == marker })
            + marker.count
        var elements: [String] = []
        var depth = 0, inString = false, escaped = false
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else {
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 {
                        if index > start { elements.append(String(decoding: bytes[start..<index], as: UTF8.self)) }
                        return elements
                    }
                    depth -= 1
                case UInt8(ascii: ",") where depth == 0:
                    elements.append(String(decoding: bytes[start..<index], as: UTF8.self))
                    start = index + 1
                default: break
                }
            }
            index += 1
        }
        Issue.record("unterminated array \(key)")
        return elements
    }
}

extension MyPreferencesSimulator {
    /// `GET {baseURL}/Async/{clientID}/Export/Segment/{accessToken}?…` (or the API/3 form).
    func retrievePage(
        clientID: String = "ACME_Co", accessToken: Int64, offset: Int64? = nil, limit: Int64? = nil,
        keepAlive: Bool? = nil,
        api3: Bool = false, headers: [(String, String)] = []
    ) async throws -> SimpleResponse {
        var query: [String] = []
        if let limit { query.append("limit=\(limit)") }
        if let offset { query.append("offset=\(offset)") }
        if let keepAlive { query.append("keepAlive=\(keepAlive)") }
        let path =
            api3 ? "/\(clientID)/export/Segment/\(accessToken)" : "/Async/\(clientID)/Export/Segment/\(accessToken)"
        return try await TestHTTP.send(
            "\(baseURL)\(path)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")), headers: headers)
    }

    /// `POST {baseURL}/Async/{clientID}/Export/Segment/Commit/{accessToken}?keepFiles=…` (or the API/3 form).
    func commitExport(
        clientID: String = "ACME_Co", accessToken: Int64, keepFiles: Bool? = false, api3: Bool = false,
        headers: [(String, String)] = []
    ) async throws -> SimpleResponse {
        let path =
            api3
            ? "/\(clientID)/export/Segment/Commit/\(accessToken)"
            : "/Async/\(clientID)/Export/Segment/Commit/\(accessToken)"
        return try await TestHTTP.send(
            "\(baseURL)\(path)" + (keepFiles.map { "?keepFiles=\($0)" } ?? ""), method: .POST, headers: headers)
    }

    /// Polls once and expects `status`; returns the status document.
    @discardableResult
    func expectStatus(_ status: String, clientID: String = "ACME_Co", accessToken: Int64) async throws -> [String: Any]
    {
        let response = try await pollStatus(clientID: clientID, accessToken: String(accessToken))
        #expect(response.status == 200)
        let object = try jsonObject(response.body)
        #expect(object["Status"] as? String == status)
        return object
    }

    /// Downloads every page with `limit` and `keepAlive`, advancing by `Offset + Count`.
    func downloadAll(clientID: String = "ACME_Co", accessToken: Int64, limit: Int64, keepAlive: Bool) async throws
        -> [DownloadedPage]
    {
        var pages: [DownloadedPage] = []
        var offset: Int64 = 1
        while true {
            let response = try await retrievePage(
                clientID: clientID, accessToken: accessToken, offset: offset, limit: limit, keepAlive: keepAlive)
            try #require(response.status == 200, "\(response.status) \(response.body)")
            let page = try DownloadedPage(response.body)
            pages.append(page)
            offset = page.offset + page.count
            if !page.hasMore { return pages }
        }
    }
}

/// Lower-case hex SHA-256 of `bytes`.
func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
    SHA256.hash(data: Array(bytes)).map { String(format: "%02x", $0) }.joined()
}

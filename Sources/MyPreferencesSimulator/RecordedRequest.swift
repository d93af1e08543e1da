import Foundation

/// One API request as the simulator saw and answered it. Never holds a credential: only the name of the
/// auth scheme presented.
///
/// JSON form (one element of `GET /_sim/requests`, one line of `--request-log`):
/// `{"time":"2024-03-05T07:08:09.123Z","method":"GET","path":"/Profiles/Async/ACME_Co/Export/42/Status",
///   "client_id":"ACME_Co","access_token":42,"auth_scheme":"Bearer","status":503,"retry_after":"3"}`
/// (`client_id`, `access_token`, `auth_scheme`, `status`, `retry_after` omitted when nil). Download requests
/// add `"offset":1001,"limit":1000,"keep_alive":true` (a page; the values in effect, defaults included) or
/// `"keep_files":false` (a commit, when sent).
package struct RecordedRequest: Codable, Sendable, Equatable {
    /// When the request arrived (simulator clock), UTC; serialised as ISO 8601 with milliseconds.
    package var time: Date
    /// HTTP method, e.g. `GET`.
    package var method: String
    /// Request path without the query, as sent (percent-encoded).
    package var path: String
    /// The MyPreferences client ID from the path, when the route has one.
    package var clientID: String?
    /// The access token from the path (status) or the one allocated (initiate), when numeric.
    package var accessToken: Int64?
    /// Auth scheme presented: `PNAUTHINFO3-HMAC-SHA256`, `Bearer`, `Basic`, `other` (an unrecognised
    /// scheme, not echoed) or nil (no `Authorization` header).
    package var authScheme: String?
    /// Response status code; nil when the connection was dropped without an answer.
    package var status: Int?
    /// The `Retry-After` value sent, verbatim.
    package var retryAfter: String?
    /// A page request's 1-based `offset` in effect (default 1); nil for other requests or an invalid query.
    package var offset: Int64?
    /// A page request's `limit` in effect (default 1000).
    package var limit: Int64?
    /// A page request's `keepAlive` in effect (default false).
    package var keepAlive: Bool?
    /// A commit's `keepFiles`, when sent.
    package var keepFiles: Bool?

    /// Creates a record.
    package init(
        time: Date, method: String, path: String, clientID: String? = nil, accessToken: Int64? = nil,
        authScheme: String? = nil, status: Int?, retryAfter: String? = nil,
        offset: Int64? = nil, limit: Int64? = nil, keepAlive: Bool? = nil, keepFiles: Bool? = nil
    ) {
        self.time = time
        self.method = method
        self.path = path
        self.clientID = clientID
        self.accessToken = accessToken
        self.authScheme = authScheme
        self.status = status
        self.retryAfter = retryAfter
        self.offset = offset
        self.limit = limit
        self.keepAlive = keepAlive
        self.keepFiles = keepFiles
    }

    enum CodingKeys: String, CodingKey {
        case time, method, path
        case clientID = "client_id"
        case accessToken = "access_token"
        case authScheme = "auth_scheme"
        case status
        case retryAfter = "retry_after"
        case offset, limit
        case keepAlive = "keep_alive"
        case keepFiles = "keep_files"
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let timeText = try c.decode(String.self, forKey: .time)
        guard let time = UTCTimestamp.parseISO8601(timeText) else {
            throw DecodingError.dataCorruptedError(
                forKey: .time, in: c, debugDescription: "not an ISO 8601 UTC time: \(timeText)")
        }
        self.time = time
        self.method = try c.decode(String.self, forKey: .method)
        self.path = try c.decode(String.self, forKey: .path)
        self.clientID = try c.decodeIfPresent(String.self, forKey: .clientID)
        self.accessToken = try c.decodeIfPresent(Int64.self, forKey: .accessToken)
        self.authScheme = try c.decodeIfPresent(String.self, forKey: .authScheme)
        self.status = try c.decodeIfPresent(Int.self, forKey: .status)
        self.retryAfter = try c.decodeIfPresent(String.self, forKey: .retryAfter)
        self.offset = try c.decodeIfPresent(Int64.self, forKey: .offset)
        self.limit = try c.decodeIfPresent(Int64.self, forKey: .limit)
        self.keepAlive = try c.decodeIfPresent(Bool.self, forKey: .keepAlive)
        self.keepFiles = try c.decodeIfPresent(Bool.self, forKey: .keepFiles)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(UTCTimestamp.iso8601Milliseconds(time), forKey: .time)
        try c.encode(method, forKey: .method)
        try c.encode(path, forKey: .path)
        try c.encodeIfPresent(clientID, forKey: .clientID)
        try c.encodeIfPresent(accessToken, forKey: .accessToken)
        try c.encodeIfPresent(authScheme, forKey: .authScheme)
        try c.encodeIfPresent(status, forKey: .status)
        try c.encodeIfPresent(retryAfter, forKey: .retryAfter)
        try c.encodeIfPresent(offset, forKey: .offset)
        try c.encodeIfPresent(limit, forKey: .limit)
        try c.encodeIfPresent(keepAlive, forKey: .keepAlive)
        try c.encodeIfPresent(keepFiles, forKey: .keepFiles)
    }
}

/// The last `capacity` records, oldest first; appending past capacity overwrites the oldest.
struct RequestRing {
    private(set) var storage: [RecordedRequest] = []
    private var oldest = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    mutating func append(_ record: RecordedRequest) {
        if storage.count < capacity {
            storage.append(record)
        } else {
            storage[oldest] = record
            oldest = (oldest + 1) % capacity
        }
    }

    var count: Int { storage.count }

    var inOrder: [RecordedRequest] {
        oldest == 0 ? storage : Array(storage[oldest...] + storage[..<oldest])
    }

    mutating func removeAll() {
        storage.removeAll(keepingCapacity: false)
        oldest = 0
    }
}

import Foundation

/// One export created by an initiate request (`POST Async/{clientId}/Export/Segment/{segmentName}` or the
/// API/3 form): an element of `GET /_sim/initiations` and of ``MyPreferencesSimulator/initiations()``.
/// Initiate requests that created nothing (refused, or an `unavailable` / non-creating `http` fault) are
/// not initiations; `GET /_sim/requests` still shows them.
///
/// JSON form: `{"client_id":"ACME_Co","segment":"Newsletter","access_token":7,
/// "last_date_time":"2024-03-05T07:00:00.000Z","callback_url":null,"match_criteria":null,
/// "received_at":"2024-03-05T07:08:09.123Z","ready_at":"2024-03-05T07:08:29.456Z","answered":true,"records":12000}`
/// (nulls written out).
package struct Initiation: Codable, Sendable, Equatable {
    /// The client ID of the path.
    package var clientID: String
    /// The segment name of the path (percent-decoded).
    package var segment: String
    /// The access token allocated for the export.
    package var accessToken: Int64
    /// The body's `LastDateTime` exactly as received; nil when absent.
    package var lastDateTime: String?
    /// The body's `CallbackURL` exactly as received; nil when absent. For a segment's export it is POSTed
    /// to once the export is `Complete` (``SegmentScenario``, "Callbacks").
    package var callbackURL: String?
    /// The body's `MatchCriteria` in its canonical spelling (e.g. `ProfileId`); nil when absent.
    package var matchCriteria: String?
    /// When the request arrived (simulator clock), UTC; serialised as ISO 8601 with milliseconds.
    package var receivedAt: Date
    /// Whether the 200 answer carrying the access token was sent: false while a `delay_s` fault holds it,
    /// and for ever after a `drop` fault or a creating `http` fault.
    package var answered: Bool
    /// Records in the export; nil when no segment is configured at all (the token then follows its scenario).
    package var records: Int64?
    /// When the export becomes `Complete` (simulator clock), UTC: ``receivedAt`` plus the segment's processing
    /// time drawn for this token — the moment its status turns `Complete` and its callback's delay starts.
    /// A status poll answers `Complete` from then on. nil when no segment is configured (the token follows its
    /// scenario). Serialised as ISO 8601 with milliseconds.
    package var readyAt: Date?

    /// Creates a record.
    package init(
        clientID: String, segment: String, accessToken: Int64, lastDateTime: String? = nil, callbackURL: String? = nil,
        matchCriteria: String? = nil, receivedAt: Date, answered: Bool, records: Int64?, readyAt: Date? = nil
    ) {
        self.clientID = clientID
        self.segment = segment
        self.accessToken = accessToken
        self.lastDateTime = lastDateTime
        self.callbackURL = callbackURL
        self.matchCriteria = matchCriteria
        self.receivedAt = receivedAt
        self.answered = answered
        self.records = records
        self.readyAt = readyAt
    }

    enum CodingKeys: String, CodingKey {
        case clientID = "client_id"
        case segment
        case accessToken = "access_token"
        case lastDateTime = "last_date_time"
        case callbackURL = "callback_url"
        case matchCriteria = "match_criteria"
        case receivedAt = "received_at"
        case readyAt = "ready_at"
        case answered, records
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let receivedText = try c.decode(String.self, forKey: .receivedAt)
        guard let receivedAt = UTCTimestamp.parseISO8601(receivedText) else {
            throw DecodingError.dataCorruptedError(
                forKey: .receivedAt, in: c, debugDescription: "not an ISO 8601 UTC time: \(receivedText)")
        }
        var readyAt: Date?
        if let readyText = try c.decodeIfPresent(String.self, forKey: .readyAt) {
            guard let parsed = UTCTimestamp.parseISO8601(readyText) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .readyAt, in: c, debugDescription: "not an ISO 8601 UTC time: \(readyText)")
            }
            readyAt = parsed
        }
        self.init(
            clientID: try c.decode(String.self, forKey: .clientID),
            segment: try c.decode(String.self, forKey: .segment),
            accessToken: try c.decode(Int64.self, forKey: .accessToken),
            lastDateTime: try c.decodeIfPresent(String.self, forKey: .lastDateTime),
            callbackURL: try c.decodeIfPresent(String.self, forKey: .callbackURL),
            matchCriteria: try c.decodeIfPresent(String.self, forKey: .matchCriteria),
            receivedAt: receivedAt,
            answered: try c.decode(Bool.self, forKey: .answered),
            records: try c.decodeIfPresent(Int64.self, forKey: .records),
            readyAt: readyAt
        )
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(clientID, forKey: .clientID)
        try c.encode(segment, forKey: .segment)
        try c.encode(accessToken, forKey: .accessToken)
        try c.encode(lastDateTime, forKey: .lastDateTime)
        try c.encode(callbackURL, forKey: .callbackURL)
        try c.encode(matchCriteria, forKey: .matchCriteria)
        try c.encode(UTCTimestamp.iso8601Milliseconds(receivedAt), forKey: .receivedAt)
        try c.encode(readyAt.map(UTCTimestamp.iso8601Milliseconds), forKey: .readyAt)
        try c.encode(answered, forKey: .answered)
        try c.encode(records, forKey: .records)
    }
}

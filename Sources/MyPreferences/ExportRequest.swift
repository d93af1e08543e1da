import Foundation
import MprefCore

/// The body of an initiate request, `POST {initiatePath}` (MyPreferences Profiles API help, "Async
/// Export Segment": `SegmentRequestInfo` with `CallbackURL` and `LastDateTime`; the Integration docs
/// add `MatchCriteria`, `MatchType` and `Values`). Sent as JSON; absent fields are left out.
package struct ExportRequest: Sendable, Hashable {
    /// Who to restrict the export to (Integration docs): `MatchCriteria`.
    package enum MatchCriteria: String, Sendable, Hashable, CaseIterable {
        case profileID = "ProfileId", alternateID = "AlternateId", phoneNumber = "PhoneNumber", emailAddress =
            "EmailAddress"
    }

    /// `CallbackURL`: the vendor POSTs there when the export is complete (body undocumented).
    package var callbackURL: String?
    /// `LastDateTime`: only records changed since; UTC `YYYY-MM-DDTHH:MM:SS.sssZ` (see ``lastDateTime(for:)``).
    package var lastDateTime: String?
    package var matchCriteria: MatchCriteria?
    /// `MatchType`, required by the vendor with `AlternateId`.
    package var matchType: String?
    /// `Values` with `MatchCriteria`.
    package var values: [String]

    package init(
        callbackURL: String? = nil, lastDateTime: String? = nil, matchCriteria: MatchCriteria? = nil,
        matchType: String? = nil,
        values: [String] = []
    ) {
        self.callbackURL = callbackURL
        self.lastDateTime = lastDateTime
        self.matchCriteria = matchCriteria
        self.matchType = matchType
        self.values = values
    }

    /// The compact JSON body, keys in a fixed order: `{"LastDateTime":"…","CallbackURL":"…",…}`
    /// (`{}` when nothing is set).
    package var json: String {
        var fields: [String] = []
        if let lastDateTime { fields.append("\"LastDateTime\":" + Self.quoted(lastDateTime)) }
        if let callbackURL { fields.append("\"CallbackURL\":" + Self.quoted(callbackURL)) }
        if let matchCriteria {
            fields.append("\"MatchCriteria\":" + Self.quoted(matchCriteria.rawValue))
            if let matchType { fields.append("\"MatchType\":" + Self.quoted(matchType)) }
            fields.append("\"Values\":[" + values.map(Self.quoted).joined(separator: ",") + "]")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// The `LastDateTime` that makes the vendor start the window no later than `start`.
    ///
    /// The vendor rounds the milliseconds' last digit up "to avoid records being skipped" (0–2 → 3,
    /// 3–6 → 7, 7–9 → 0 of the next ten): sent as is, a start of `…00.001Z` would be read as
    /// `…00.003Z` and a record changed at `.001` or `.002` skipped. So the start is moved back to the
    /// ten milliseconds below it and one more (`…00.001Z` → `…59.999Z`), which the vendor rounds to
    /// `…00.000Z`: at most 11 ms earlier than `start`, never later. Formatted UTC
    /// `YYYY-MM-DDTHH:MM:SS.sssZ` (the documented format; the zone is always given).
    package static func lastDateTime(for start: Date) -> String {
        let ms = WallClock.milliseconds(start)
        let floored = ms - ((ms % 10) + 10) % 10
        return Timestamp.format(WallClock.date(milliseconds: floored - 1))
    }

    static func quoted(_ text: String) -> String {
        JSONText.quoted(text)
    }
}

/// The answer of a successful initiate: `{"AccessToken": <int>}`.
package struct InitiatedExport: Sendable, Hashable {
    /// The new export's access token (> 0).
    package var accessToken: AccessToken

    package init(accessToken: AccessToken) {
        self.accessToken = accessToken
    }

    /// Decodes the answer's body: a JSON object whose `AccessToken` (any letter case) is a positive
    /// integer (or a string of digits); anything else is `.undecodable`.
    static func decode(_ bytes: [UInt8]) -> RequestOutcome<InitiatedExport> {
        let excerpt = BodyExcerpt.make(bytes)
        guard let value = try? JSONValue.parse(bytes), case .object(let members) = value else {
            return .undecodable(reason: "the answer is not a JSON object", excerpt: excerpt)
        }
        let tokens = members.filter { $0.key.lowercased() == "accesstoken" }
        guard tokens.count == 1, let token = tokens.first else {
            return .undecodable(
                reason: tokens.isEmpty
                    ? "the answer has no AccessToken" : "AccessToken appears more than once (ambiguous)",
                excerpt: excerpt)
        }
        let text: String? =
            switch token.value {
            case .number(let digits), .string(let digits): digits
            default: nil
            }
        guard let text, let accessToken = StatusDecoder.integer(text: text, allowNegative: false), accessToken > 0
        else {
            return .undecodable(reason: "AccessToken is not a positive 64-bit integer", excerpt: excerpt)
        }
        return .ok(InitiatedExport(accessToken: AccessToken(accessToken)))
    }
}

/// What an initiate request came to.
package typealias InitiateResult = RequestResult<InitiatedExport>

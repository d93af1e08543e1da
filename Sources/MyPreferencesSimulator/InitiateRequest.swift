import Foundation
import MprefCore

/// The JSON body of an initiate request (`SegmentRequestInfo`), read as ASP.NET Web API binds it: key names
/// case-insensitive, unknown keys and `null` values ignored, an empty body (or `{}`) meaning "no options".
/// Anything else that does not fit is a 400 (``Invalid``) naming the problem.
///
/// | key | type | meaning |
/// |---|---|---|
/// | `CallbackURL` | string | recorded (``Initiation/callbackURL``); never called |
/// | `LastDateTime` | string `YYYY-MM-DDTHH:mm:ss.sssZ` (`Z` optional: UTC; `.sss` optional, 1–3 digits) | incremental export: only records changed since then (see ``MprefCore/LastDateTime/vendorRounded(milliseconds:)``) |
/// | `MatchCriteria` | `ProfileId`, `AlternateId`, `PhoneNumber` or `EmailAddress` (any case) | restrict the export to the profiles in `Values` (only `ProfileId` filters; the others are accepted and export the whole window) |
/// | `MatchType` | string | required (non-empty) with `AlternateId`; otherwise ignored |
/// | `Values` | array of 1–10000 strings | required with `MatchCriteria`, refused without it |
struct InitiateRequest: Sendable, Equatable {
    /// A body the simulator refuses with 400; ``message`` goes into `{"Message": …}`.
    struct Invalid: Error, Equatable {
        var message: String
    }

    /// The profile identifiers `Values` may hold.
    enum MatchCriteria: String, Sendable, CaseIterable {
        case profileID = "ProfileId"
        case alternateID = "AlternateId"
        case phoneNumber = "PhoneNumber"
        case emailAddress = "EmailAddress"
    }

    /// Most `Values` accepted in one request.
    static let maximumValues = 10_000

    /// `CallbackURL` as received.
    var callbackURL: String?
    /// `LastDateTime` as received.
    var lastDateTime: String?
    /// `LastDateTime` in milliseconds since the Unix epoch, before the vendor's rounding.
    var lastDateTimeMilliseconds: Int64?
    var matchCriteria: MatchCriteria?
    var matchType: String?
    /// `Values` as received (only with `matchCriteria`).
    var values: [String] = []

    init(
        callbackURL: String? = nil, lastDateTime: String? = nil, matchCriteria: MatchCriteria? = nil,
        matchType: String? = nil, values: [String] = []
    ) {
        self.callbackURL = callbackURL
        self.lastDateTime = lastDateTime
        self.lastDateTimeMilliseconds = lastDateTime.flatMap(Self.milliseconds(lastDateTime:))
        self.matchCriteria = matchCriteria
        self.matchType = matchType
        self.values = values
    }

    /// Reads a request body (UTF-8 JSON).
    /// - Throws: ``Invalid`` for malformed JSON, a body that is not an object, a key given twice (in any
    ///   case), a value of the wrong type, a `LastDateTime` not in the documented form, an unknown
    ///   `MatchCriteria`, `AlternateId` without `MatchType`, and `Values` without `MatchCriteria` or vice versa.
    init(body: [UInt8]) throws(Invalid) {
        self.init()
        guard body.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }) else { return }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        } catch {
            throw Invalid(message: "The request is invalid: the body is not valid JSON.")
        }
        guard let object = parsed as? [String: Any] else {
            throw Invalid(message: "The request is invalid: the body must be a JSON object (SegmentRequestInfo).")
        }
        var fields: [String: Any] = [:]
        for (key, value) in object {
            let name = key.lowercased()
            guard fields[name] == nil else {
                throw Invalid(message: "The request is invalid: '\(key)' is given twice.")
            }
            if !(value is NSNull) { fields[name] = value }
        }
        func string(_ name: String) throws(Invalid) -> String? {
            guard let value = fields[name.lowercased()] else { return nil }
            guard let text = value as? String else {
                throw Invalid(message: "The request is invalid: '\(name)' must be a string.")
            }
            return text
        }

        callbackURL = try string("CallbackURL")
        if let text = try string("LastDateTime") {
            guard let milliseconds = Self.milliseconds(lastDateTime: text) else {
                throw Invalid(
                    message:
                        "The request is invalid: 'LastDateTime' must be YYYY-MM-DDTHH:mm:ss.sssZ (UTC), got '\(text)'.")
            }
            lastDateTime = text
            lastDateTimeMilliseconds = milliseconds
        }
        if let text = try string("MatchCriteria") {
            guard
                let criteria = MatchCriteria.allCases.first(where: {
                    $0.rawValue.caseInsensitiveCompare(text) == .orderedSame
                })
            else {
                let known = MatchCriteria.allCases.map(\.rawValue).joined(separator: ", ")
                throw Invalid(
                    message: "The request is invalid: 'MatchCriteria' must be one of \(known), got '\(text)'.")
            }
            matchCriteria = criteria
        }
        matchType = try string("MatchType")
        if let value = fields["values"] {
            guard let array = value as? [Any], let strings = array as? [String], strings.count == array.count else {
                throw Invalid(message: "The request is invalid: 'Values' must be an array of strings.")
            }
            guard strings.count <= Self.maximumValues else {
                throw Invalid(
                    message:
                        "The request is invalid: 'Values' holds \(strings.count) entries; at most \(Self.maximumValues) are accepted."
                )
            }
            values = strings
        }
        switch matchCriteria {
        case nil:
            guard values.isEmpty else {
                throw Invalid(message: "The request is invalid: 'Values' needs 'MatchCriteria'.")
            }
        case let criteria?:
            guard !values.isEmpty else {
                throw Invalid(
                    message:
                        "The request is invalid: 'MatchCriteria' \(criteria.rawValue) needs a non-empty 'Values' array."
                )
            }
            if criteria == .alternateID, (matchType ?? "").isEmpty {
                throw Invalid(
                    message: "The request is invalid: 'MatchType' is required with 'MatchCriteria' AlternateId.")
            }
        }
    }

    /// Parses `YYYY-MM-DDTHH:mm:ss[.s…]` with an optional trailing `Z` (without it the time is read as UTC)
    /// and 1–3 fraction digits, into milliseconds since the Unix epoch; nil for anything else (other zones,
    /// a space or lower-case `t`/`z`, more digits, a date that does not exist).
    static func milliseconds(lastDateTime text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for i in range {
                guard bytes[i] >= 48, bytes[i] <= 57 else { return nil }
                value = value * 10 + Int64(bytes[i] - 48)
            }
            return value
        }
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19), second < 60,
            let seconds = CivilTime.epochSeconds(
                year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        else { return nil }
        var index = 19
        var milliseconds: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            var scale: Int64 = 100
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                digits += 1
                guard digits <= 3 else { return nil }
                milliseconds += Int64(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard digits >= 1 else { return nil }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "Z") { index += 1 }
        guard index == bytes.count else { return nil }
        return seconds.multipliedSaturating(by: 1000).addingSaturating(milliseconds)
    }
}

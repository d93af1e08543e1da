import Foundation
import MprefCore

/// The records of one export, generated on demand from (seed, client ID, access token, record index): the
/// same inputs always give the same bytes, in any process, and no export is ever held in memory whole.
///
/// A record is one compact JSON object with a fixed key order, a `UserProfilePreferences` document:
/// `{"ProfileId":9007199254740994,"IsActive":true,"CustomerType":"Individual","CustomerName":"Zoë Weiß 🎉",
/// "Consents":[…],"ProfilePreferences":[…],"AlternateIds":[…],"Addresses":[…],"PhoneNumbers":[…],"Emails":[…],
/// "ModifiedDate":"2023-04-05T06:07:08.009Z"}`. About 1 in 50 is a deleted profile:
/// `{"ProfileId":10000050,"DeletedDate":"…","ReasonCode":"CustomerRequest"}`. Every record whose index
/// is 1 mod 4 has a `ProfileId` above 2^53 (9007199254740993 + index), so a float re-encoding changes it.
/// Strings carry non-ASCII text (é, ß, 日本語, emoji) and escapes (`\"`, `\\`, `\n`, `\u2028`, and `\u00e9`
/// in `Emails[].DisplayName`, which is written ASCII-only). No record contains a raw newline byte.
///
/// The export of a segment (``SegmentScenario``) is instead a selection of positions of the segment's
/// dataset, generated from (seed, client ID, segment name, position) — so a record reads the same in every
/// export of that segment — with the `ProfileId` of its position and its change time as `ModifiedDate`
/// (a deleted profile then has `"ModifiedDate"` after `"ReasonCode"`, equal to its `DeletedDate`).
struct ExportRecords: Sendable {
    /// Which dataset positions a segment's export holds, in order.
    enum Selection: Sendable, Equatable {
        /// `first`, `first + 1`, …, `count` positions.
        case range(first: Int64, count: Int64)
        /// Exactly these positions (ascending), e.g. those matching `MatchCriteria: ProfileId`.
        case positions([Int64])

        var count: Int64 {
            switch self {
            case .range(_, let count): max(0, count)
            case .positions(let positions): Int64(positions.count)
            }
        }
    }

    private enum Source: Sendable {
        /// A scripted token's export: record n is position n, with a random `ModifiedDate`.
        case scripted
        case segment(SegmentTimeline, Selection)
    }

    /// Record indices are 1-based, `1...count`.
    let count: Int64
    private let base: UInt64
    private let source: Source

    /// The export of a scripted token: `count` records (negative counts as 0).
    init(count: Int64, seed: UInt64, clientID: String, accessToken: Int64) {
        self.count = max(0, count)
        var mixer = SplitMix64(state: Self.fnv1a(clientID.utf8) ^ seed)
        self.base = mixer.next() ^ SplitMix64(state: UInt64(bitPattern: accessToken)).peek
        self.source = .scripted
    }

    /// The export of segment `segmentName` under `clientID` holding the dataset positions `selection`.
    init(
        segmentNamed segmentName: String, clientID: String, seed: UInt64, timeline: SegmentTimeline,
        selection: Selection
    ) {
        self.count = selection.count
        var mixer = SplitMix64(state: Self.fnv1a(Array(clientID.utf8) + [0] + Array(segmentName.utf8)) ^ seed)
        self.base = mixer.next()
        self.source = .segment(timeline, selection)
    }

    /// FNV-1a: stable across processes (Swift's Hasher is seeded per process).
    private static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The `ProfileId` of the record at `position` (a scripted export's record index, or a dataset position).
    static func profileID(atPosition position: Int64) -> Int64 {
        position % 4 == 1
            ? Int64(9_007_199_254_740_993).addingSaturating(position) : Int64(10_000_000).addingSaturating(position)
    }

    /// The position ≥ 1 whose ``profileID(atPosition:)`` is `profileID`, if any. Positions below
    /// 8,997,199,254,740,993 — far beyond any dataset — have distinct ProfileIds; the big form wins above.
    static func position(ofProfileID profileID: Int64) -> Int64? {
        let big: Int64 = 9_007_199_254_740_993
        let position = profileID > big ? profileID - big : profileID.subtractingSaturating(10_000_000)
        return position >= 1 && Self.profileID(atPosition: position) == profileID ? position : nil
    }

    /// Appends record `index` (1-based, `1...count`) to `json`.
    func write(_ index: Int64, into json: inout JSONBytes) {
        switch source {
        case .scripted:
            writeRecord(at: index, modifiedAt: nil, into: &json)
        case .segment(let timeline, .range(let first, _)):
            let position = first.addingSaturating(index - 1)
            writeRecord(at: position, modifiedAt: timeline.changeTime(ofRecordAt: position), into: &json)
        case .segment(let timeline, .positions(let positions)):
            guard index >= 1, index <= Int64(positions.count) else { return }
            let position = positions[Int(index - 1)]
            writeRecord(at: position, modifiedAt: timeline.changeTime(ofRecordAt: position), into: &json)
        }
    }

    /// Appends the record at `position`; `modifiedAt` (milliseconds) replaces the random `ModifiedDate`.
    private func writeRecord(at position: Int64, modifiedAt: Int64?, into json: inout JSONBytes) {
        let index = position
        var rng = SplitMix64(state: base ^ (UInt64(bitPattern: index) &* 0x9E37_79B9_7F4A_7C15))
        let profileID = Self.profileID(atPosition: index)
        if rng.next() % 50 == 0 {
            json.raw("{")
            json.key("ProfileId"); json.int(profileID)
            json.raw(","); json.key("DeletedDate")
            if let modifiedAt {
                Self.writeTimestamp(milliseconds: modifiedAt, into: &json)
            } else {
                Self.writeTimestamp(&rng, into: &json)
            }
            json.raw(","); json.key("ReasonCode"); json.string(rng.pick(Vocabulary.deletionReasons))
            if let modifiedAt {
                json.raw(","); json.key("ModifiedDate"); Self.writeTimestamp(milliseconds: modifiedAt, into: &json)
            }
            json.raw("}")
            return
        }
        let isBusiness = rng.next() % 5 == 0
        json.raw("{")
        json.key("ProfileId"); json.int(profileID)
        json.raw(","); json.key("IsActive"); json.bool(rng.next() % 10 != 0)
        json.raw(","); json.key("CustomerType"); json.string(isBusiness ? "Business" : "Individual")
        json.raw(","); json.key("CustomerName")
        json.string(
            isBusiness
                ? rng.pick(Vocabulary.companies)
                : "\(rng.pick(Vocabulary.givenNames)) \(rng.pick(Vocabulary.familyNames))")
        json.raw(","); json.key("Consents"); writeConsents(&rng, into: &json)
        json.raw(","); json.key("ProfilePreferences"); writePreferences(&rng, into: &json)
        json.raw(","); json.key("AlternateIds"); writeAlternateIDs(index, &rng, into: &json)
        json.raw(","); json.key("Addresses"); writeAddresses(&rng, into: &json)
        json.raw(","); json.key("PhoneNumbers"); writePhones(&rng, into: &json)
        json.raw(","); json.key("Emails"); writeEmails(index, &rng, into: &json)
        json.raw(","); json.key("ModifiedDate")
        if let modifiedAt {
            Self.writeTimestamp(milliseconds: modifiedAt, into: &json)
        } else {
            Self.writeTimestamp(&rng, into: &json)
        }
        json.raw("}")
    }

    private func writeConsents(_ rng: inout SplitMix64, into json: inout JSONBytes) {
        json.raw("[")
        for n in 0..<(1 + Int(rng.next() % 3)) {
            if n > 0 { json.raw(",") }
            json.raw("{"); json.key("ConsentType"); json.string(rng.pick(Vocabulary.consentTypes))
            json.raw(","); json.key("Granted"); json.bool(rng.next() % 3 != 0)
            json.raw(","); json.key("Source"); json.string(rng.pick(Vocabulary.sources))
            json.raw(","); json.key("ConsentDate"); Self.writeTimestamp(&rng, into: &json)
            json.raw("}")
        }
        json.raw("]")
    }

    private func writePreferences(_ rng: inout SplitMix64, into json: inout JSONBytes) {
        json.raw("[")
        for n in 0..<(1 + Int(rng.next() % 2)) {
            if n > 0 { json.raw(",") }
            json.raw("{"); json.key("Category"); json.string(rng.pick(Vocabulary.categories))
            json.raw(","); json.key("Preferences"); json.raw("[")
            for m in 0..<(1 + Int(rng.next() % 3)) {
                if m > 0 { json.raw(",") }
                json.raw("{"); json.key("Name"); json.string(rng.pick(Vocabulary.preferenceNames))
                json.raw(","); json.key("Value"); json.string(rng.pick(Vocabulary.preferenceValues))
                json.raw(","); json.key("OptIn"); json.bool(rng.next() % 2 == 0)
                json.raw("}")
            }
            json.raw("]")
            json.raw(","); json.key("Attributes"); json.raw("{")
            json.key("Channel"); json.string(rng.pick(Vocabulary.channels))
            json.raw(","); json.key("Comment"); json.string(rng.pick(Vocabulary.comments))
            json.raw("}}")
        }
        json.raw("]")
    }

    private func writeAlternateIDs(_ index: Int64, _ rng: inout SplitMix64, into json: inout JSONBytes) {
        json.raw("[{"); json.key("Type"); json.string("CRM")
        json.raw(","); json.key("Value"); json.string("CRM-\(index)")
        json.raw("}")
        if rng.next() % 3 == 0 {
            json.raw(",{"); json.key("Type"); json.string("Legacy")
            json.raw(","); json.key("Value"); json.string("DOMAIN\\u\(rng.next() % 100_000)")
            json.raw("}")
        }
        json.raw("]")
    }

    private func writeAddresses(_ rng: inout SplitMix64, into json: inout JSONBytes) {
        json.raw("[")
        for n in 0..<Int(rng.next() % 3) {
            if n > 0 { json.raw(",") }
            let (city, postalCode, country) = rng.pick(Vocabulary.cities)
            json.raw("{"); json.key("AddressType"); json.string(n == 0 ? "Home" : "Work")
            json.raw(","); json.key("Line1"); json.string("\(1 + rng.next() % 250) \(rng.pick(Vocabulary.streets))")
            json.raw(","); json.key("Line2"); json.string(rng.pick(Vocabulary.secondLines))
            json.raw(","); json.key("City"); json.string(city)
            json.raw(","); json.key("PostalCode"); json.string(postalCode)
            json.raw(","); json.key("Country"); json.string(country)
            json.raw("}")
        }
        json.raw("]")
    }

    private func writePhones(_ rng: inout SplitMix64, into json: inout JSONBytes) {
        json.raw("[")
        for n in 0..<Int(rng.next() % 3) {
            if n > 0 { json.raw(",") }
            json.raw("{"); json.key("PhoneType"); json.string(n == 0 ? "Mobile" : "Home")
            json.raw(","); json.key("Number"); json.string("+1555\(1_000_000 + rng.next() % 9_000_000)")
            json.raw(","); json.key("IsPrimary"); json.bool(n == 0)
            json.raw("}")
        }
        json.raw("]")
    }

    private func writeEmails(_ index: Int64, _ rng: inout SplitMix64, into json: inout JSONBytes) {
        json.raw("[")
        for n in 0..<(1 + Int(rng.next() % 2)) {
            if n > 0 { json.raw(",") }
            json.raw("{"); json.key("Address"); json.string("user\(index).\(n)@example.com")
            json.raw(","); json.key("DisplayName"); json.string(rng.pick(Vocabulary.displayNames), asciiOnly: true)
            json.raw(","); json.key("IsPrimary"); json.bool(n == 0)
            json.raw("}")
        }
        json.raw("]")
    }

    /// A UTC instant in 2020–2024 with milliseconds as a JSON string, e.g. `"2023-04-05T06:07:08.009Z"`.
    /// (Through `Date`, as scripted exports always have been: their bytes must not change.)
    private static func writeTimestamp(_ rng: inout SplitMix64, into json: inout JSONBytes) {
        let milliseconds = 1_577_836_800_000 + Int64(rng.next() % 157_766_400_000)
        write(UTCTimestamp.civil(Date(timeIntervalSince1970: Double(milliseconds) / 1000)), into: &json)
    }

    /// Exactly `milliseconds` since the Unix epoch as a JSON string `"YYYY-MM-DDTHH:MM:SS.sssZ"` (UTC).
    static func writeTimestamp(milliseconds: Int64, into json: inout JSONBytes) {
        write(UTCTimestamp.civil(milliseconds: milliseconds), into: &json)
    }

    private static func write(_ c: UTCTimestamp.Civil, into json: inout JSONBytes) {
        json.raw("\"")
        json.zeroPadded(c.year, digits: 4); json.raw("-")
        json.zeroPadded(c.month, digits: 2); json.raw("-")
        json.zeroPadded(c.day, digits: 2); json.raw("T")
        json.zeroPadded(c.hour, digits: 2); json.raw(":")
        json.zeroPadded(c.minute, digits: 2); json.raw(":")
        json.zeroPadded(c.second, digits: 2); json.raw(".")
        json.zeroPadded(c.millisecond, digits: 3); json.raw("Z\"")
    }
}

extension SplitMix64 {
    mutating func pick<T>(_ choices: [T]) -> T {
        choices[Int(next() % UInt64(choices.count))]
    }
}

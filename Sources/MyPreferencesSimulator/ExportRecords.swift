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
struct ExportRecords: Sendable {
    /// Record indices are 1-based, `1...count`.
    let count: Int64
    private let base: UInt64

    init(count: Int64, seed: UInt64, clientID: String, accessToken: Int64) {
        self.count = max(0, count)
        // FNV-1a over the client ID: stable across processes (Swift's Hasher is seeded per process).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in clientID.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        var mixer = SplitMix64(state: hash ^ seed)
        self.base = mixer.next() ^ SplitMix64(state: UInt64(bitPattern: accessToken)).peek
    }

    /// Appends record `index` (1-based) to `json`.
    func write(_ index: Int64, into json: inout JSONBytes) {
        var rng = SplitMix64(state: base ^ (UInt64(bitPattern: index) &* 0x9E37_79B9_7F4A_7C15))
        let profileID =
            index % 4 == 1 ? Int64(9_007_199_254_740_993).addingSaturating(index) : Int64(10_000_000).addingSaturating(index)
        if rng.next() % 50 == 0 {
            json.raw("{")
            json.key("ProfileId"); json.int(profileID)
            json.raw(","); json.key("DeletedDate"); Self.writeTimestamp(&rng, into: &json)
            json.raw(","); json.key("ReasonCode"); json.string(rng.pick(Vocabulary.deletionReasons))
            json.raw("}")
            return
        }
        let isBusiness = rng.next() % 5 == 0
        json.raw("{")
        json.key("ProfileId"); json.int(profileID)
        json.raw(","); json.key("IsActive"); json.bool(rng.next() % 10 != 0)
        json.raw(","); json.key("CustomerType"); json.string(isBusiness ? "Business" : "Individual")
        json.raw(","); json.key("CustomerName")
        json.string(isBusiness ? rng.pick(Vocabulary.companies) : "\(rng.pick(Vocabulary.givenNames)) \(rng.pick(Vocabulary.familyNames))")
        json.raw(","); json.key("Consents"); writeConsents(&rng, into: &json)
        json.raw(","); json.key("ProfilePreferences"); writePreferences(&rng, into: &json)
        json.raw(","); json.key("AlternateIds"); writeAlternateIDs(index, &rng, into: &json)
        json.raw(","); json.key("Addresses"); writeAddresses(&rng, into: &json)
        json.raw(","); json.key("PhoneNumbers"); writePhones(&rng, into: &json)
        json.raw(","); json.key("Emails"); writeEmails(index, &rng, into: &json)
        json.raw(","); json.key("ModifiedDate"); Self.writeTimestamp(&rng, into: &json)
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
    private static func writeTimestamp(_ rng: inout SplitMix64, into json: inout JSONBytes) {
        let milliseconds = 1_577_836_800_000 + Int64(rng.next() % 157_766_400_000)
        let c = UTCTimestamp.civil(Date(timeIntervalSince1970: Double(milliseconds) / 1000))
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

/// Sebastiano Vigna's SplitMix64: a tiny, fast, well-mixed deterministic generator.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next value without advancing.
    var peek: UInt64 {
        var copy = self
        return copy.next()
    }

    mutating func pick<T>(_ choices: [T]) -> T {
        choices[Int(next() % UInt64(choices.count))]
    }
}

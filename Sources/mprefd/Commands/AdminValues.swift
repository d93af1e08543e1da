/// Parsing and checking the values operators type: durations (access tokens and client IDs are
/// ``AccessToken/init(digits:)`` and ``ClientID/isValid(_:)`` in MprefCore).
///
/// Pure functions, so `add-token` can check every value before it writes anything.
enum AdminValues {
    /// Seconds in a duration written as `90s`, `45m`, `36h`, `2d`, a combination in that order
    /// such as `1d12h` or `1h30m`, or a bare number of seconds (`5400`). `nil` when malformed,
    /// zero, or beyond Int64 seconds.
    static func durationSeconds(_ text: some StringProtocol) -> Int64? {
        let text = String(text)
        guard !text.isEmpty else { return nil }
        if let bare = accessTokenLikeSeconds(text) { return bare <= maxDurationSeconds ? bare : nil }
        let units: [(Character, Int64)] = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)]
        var total: Int64 = 0
        var digits = ""
        var nextUnit = 0
        for character in text {
            if character.isASCII, character.isNumber {
                digits.append(character)
                continue
            }
            guard !digits.isEmpty, let unitIndex = units[nextUnit...].firstIndex(where: { $0.0 == character }),
                let number = Int64(digits)
            else { return nil }
            let (product, overflow) = number.multipliedReportingOverflow(by: units[unitIndex].1)
            let (sum, overflow2) = total.addingReportingOverflow(product)
            guard !overflow, !overflow2 else { return nil }
            total = sum
            digits = ""
            nextUnit = unitIndex + 1
        }
        guard digits.isEmpty, total > 0, total <= maxDurationSeconds else { return nil }
        return total
    }

    /// Whether `text` is a zero duration (`0`, `00`, `0s`, `0m`, `0h`, `0d`, `0h0m` …): `--deadline 0`
    /// means no deadline, as `polling.deadline_s: 0` does.
    static func isZeroDuration(_ text: some StringProtocol) -> Bool {
        guard !text.isEmpty, !text.contains(where: { $0.isNumber && $0 != "0" }) else { return false }
        // Same shape as a valid duration, with every digit zero.
        return durationSeconds(String(text.map { $0 == "0" ? "1" : $0 })) != nil
    }

    /// The longest `--deadline`/`--timeout` accepted: 100 years (timestamps stay four-digit years).
    static let maxDurationSeconds: Int64 = 100 * 366 * 86_400

    /// What `durationSeconds` accepts, for error messages.
    static let durationRule =
        "a duration is like 90s, 45m, 36h, 2d, 1h30m, or a number of seconds, more than 0 and at most 100 years"

    private static func accessTokenLikeSeconds(_ text: String) -> Int64? {
        guard text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int64(text), value > 0 else { return nil }
        return value
    }
}

import Foundation

/// The query of a download request (`limit`, `offset`, `keepAlive`, `keepFiles`), read as ASP.NET binds
/// parameters: names case-insensitive, the first occurrence wins, an empty value counts as absent, and a
/// value that does not parse is a 400 (``Invalid``), never a trap.
struct QueryParameters {
    /// A value that does not parse or is out of range; ``message`` goes into `{"Message": …}`.
    struct Invalid: Error {
        var message: String
    }

    private var values: [String: String] = [:]

    /// Parses `a=1&b=x` (percent-decoded; `+` read as a space).
    init(_ query: String?) {
        guard let query, !query.isEmpty else { return }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let rawName = parts.first else { continue }
            let decode = { (text: Substring) in
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let name = decode(rawName).lowercased()
            let value = parts.count > 1 ? decode(parts[1]) : ""
            if values[name] == nil, !value.isEmpty { values[name] = value }
        }
    }

    /// The integer `name` (default `defaultValue` when absent) within `range`.
    func integer(_ name: String, default defaultValue: Int64, in range: ClosedRange<Int64>) throws(Invalid) -> Int64 {
        guard let text = values[name.lowercased()] else { return defaultValue }
        guard let value = Int64(text), range.contains(value) else {
            throw Invalid(
                message:
                    "The request is invalid: '\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound), got '\(text)'."
            )
        }
        return value
    }

    /// The boolean `name` (`true`/`false`, any case); nil when absent.
    func boolean(_ name: String) throws(Invalid) -> Bool? {
        guard let text = values[name.lowercased()] else { return nil }
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default: throw Invalid(message: "The request is invalid: '\(name)' must be true or false, got '\(text)'.")
        }
    }
}

import MprefCore
import Configuration
import Foundation

/// Reads one key at a time through a `ConfigReader`, checks it, and records the effective value and
/// its source for `mprefd check-config`.
///
/// Every value is read as text and parsed here rather than with `ConfigReader.int(forKey:)` and
/// friends: those return the default when a value does not convert, and a bad value must be an
/// error naming the key, the value and what is allowed.
struct ConfigValueReader {
    let reader: ConfigReader
    /// The config file, for error messages; `nil` when there is none.
    let filePath: String?
    /// Dotted key paths present in the file.
    let fileValuePaths: Set<String>
    /// Names of the environment variables set (case-sensitive, as the environment provider reads them).
    let environmentNames: Set<String>
    /// The effective values read so far, in reading order.
    var entries: [ConfigEntry] = []

    init(reader: ConfigReader, filePath: String?, fileValuePaths: Set<String>, environment: [String: String]) {
        self.reader = reader
        self.filePath = filePath
        self.fileValuePaths = fileValuePaths
        self.environmentNames = Set(environment.keys)
    }

    /// Where the value of `path` comes from.
    func source(_ path: [String]) -> ConfigEntry.Source {
        let name = ConfigKeys.environmentName(path)
        if environmentNames.contains(name) { return .environment(name) }
        if fileValuePaths.contains(path.joined(separator: ".")) { return .file }
        return .byDefault
    }

    /// An exit-78 error: `KEY = "VALUE" (from SOURCE) is not allowed; expected ALLOWED`.
    func failure(_ path: [String], _ value: String, allowed: String) -> MprefdError {
        let origin: String = switch source(path) {
        case .environment(let name): "from environment variable \(name)"
        case .file: "in \(filePath ?? "the config file")"
        case .byDefault, .secretFile: "the default"
        }
        return MprefdError.configuration("bad value for \(path.joined(separator: ".")): \(Self.quote(value)) (\(origin)); expected \(allowed)")
    }

    mutating func record(_ path: [String], _ value: ConfigEntry.Value) {
        entries.append(ConfigEntry(path: path, value: value, source: source(path)))
    }

    private func raw(_ path: [String], isSecret: Bool = false) -> String? {
        reader.string(forKey: ConfigKey(path), isSecret: isSecret)
    }

    /// A string value, or `default`.
    mutating func text(_ path: [String], default defaultValue: String) -> String {
        let value = raw(path) ?? defaultValue
        record(path, .text(value))
        return value
    }

    /// A string value that has no default; `nil` (and not shown) when unset or empty.
    mutating func optionalText(_ path: [String], record shouldRecord: Bool = true) -> String? {
        guard let value = raw(path), !value.isEmpty else { return nil }
        if shouldRecord { record(path, .text(value)) }
        return value
    }

    /// A secret value; recorded as `<redacted>`, never as itself.
    mutating func secret(_ path: [String]) -> String? {
        guard let value = raw(path, isSecret: true), !value.isEmpty else { return nil }
        record(path, .redacted)
        return value
    }

    /// A number of seconds (decimals allowed) for which `isAllowed` holds.
    /// At most `maxSeconds` (about 31.7 years): larger values are typos, and they would not fit a `Duration`.
    mutating func seconds(_ path: [String], default defaultValue: Double, allowed: String, _ isAllowed: (Double) -> Bool) throws -> Double {
        try number(path, default: defaultValue, allowed: "a number of " + allowed + " (at most \(Int(Self.maxSeconds)))") {
            $0 <= Self.maxSeconds && isAllowed($0)
        }
    }

    /// The largest number of seconds any `*_s` key takes: 10⁹.
    static let maxSeconds: Double = 1_000_000_000

    /// A finite number for which `isAllowed` holds.
    mutating func number(_ path: [String], default defaultValue: Double, allowed: String, _ isAllowed: (Double) -> Bool) throws -> Double {
        guard let text = raw(path) else {
            record(path, .number(Self.format(defaultValue)))
            return defaultValue
        }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let value = Double(trimmed), value.isFinite, isAllowed(value) else {
            throw failure(path, text, allowed: allowed)
        }
        record(path, .number(Self.format(value)))
        return value
    }

    /// An integer for which `isAllowed` holds.
    mutating func integer(_ path: [String], default defaultValue: Int, allowed: String, _ isAllowed: (Int) -> Bool) throws -> Int {
        guard let text = raw(path) else {
            record(path, .number(String(defaultValue)))
            return defaultValue
        }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), isAllowed(value) else {
            throw failure(path, text, allowed: allowed)
        }
        record(path, .number(String(value)))
        return value
    }

    /// One of `choices`.
    mutating func choice(_ path: [String], default defaultValue: String, from choices: [String]) throws -> String {
        let value = raw(path) ?? defaultValue
        guard choices.contains(value) else {
            throw failure(path, value, allowed: "one of " + choices.joined(separator: "|"))
        }
        record(path, .text(value))
        return value
    }

    /// `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`).
    mutating func bool(_ path: [String], default defaultValue: Bool) throws -> Bool {
        guard let text = raw(path) else {
            record(path, .bool(defaultValue))
            return defaultValue
        }
        let value: Bool
        switch text.lowercased() {
        case "true", "yes", "on", "1": value = true
        case "false", "no", "off", "0": value = false
        default: throw failure(path, text, allowed: "true or false")
        }
        record(path, .bool(value))
        return value
    }

    /// A list of shell command lines; empty entries are dropped, an all-blank entry is an error.
    mutating func commands(_ path: [String]) throws -> [String] {
        let values = (reader.stringArray(forKey: ConfigKey(path)) ?? []).filter { !$0.isEmpty }
        if let blank = values.first(where: { $0.allSatisfy(\.isWhitespace) }) {
            throw failure(path, blank, allowed: "a list of non-blank shell command lines")
        }
        record(path, .list(values))
        return values
    }

    /// `10` for whole numbers, else the shortest decimal (`2.5`).
    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// `value` in double quotes, with `"` and `\` and control characters escaped.
    static func quote(_ value: String) -> String {
        JSONText.quoted(value)
    }
}

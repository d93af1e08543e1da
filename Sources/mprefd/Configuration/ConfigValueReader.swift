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
        let origin: String =
            switch source(path) {
            case .environment(let name): "from environment variable \(name)"
            case .file: "in \(filePath ?? "the config file")"
            case .byDefault, .secretFile: "the default"
            }
        return MprefdError.configuration(
            "bad value for \(path.joined(separator: ".")): \(Self.quote(value)) (\(origin)); expected \(allowed)")
    }

    mutating func record(_ path: [String], _ value: ConfigEntry.Value) {
        entries.append(ConfigEntry(path: path, value: value, source: source(path)))
    }

    private func raw(_ path: [String], isSecret: Bool = false) -> String? {
        reader.string(forKey: ConfigKey(path), isSecret: isSecret)
    }

    typealias Key = ConfigKeys.Key

    /// The text of `section` + `key`, or its default (a choice must be one of its choices).
    mutating func read(_ section: [String], _ key: Key<String>) throws -> String {
        let path = section + [key.name]
        let value = raw(path) ?? key.defaultValue
        if let bound = key.bound, !bound.holds(value) {
            throw failure(path, value, allowed: bound.allowed)
        }
        record(path, .text(value))
        return value
    }

    /// Text without a default; `nil` (and not shown) when unset or empty. A secret is recorded as
    /// `<redacted>`, never as itself.
    mutating func read(_ section: [String], _ key: Key<String?>, record shouldRecord: Bool = true) -> String? {
        let path = section + [key.name]
        guard let value = raw(path, isSecret: key.unit == .secret), !value.isEmpty else { return nil }
        if shouldRecord { record(path, key.unit == .secret ? .redacted : .text(value)) }
        return value
    }

    /// A finite number (seconds: at most ``ConfigKeys/maxSeconds``) within the key's bound.
    mutating func read(_ section: [String], _ key: Key<Double>) throws -> Double {
        let path = section + [key.name]
        guard let text = raw(path) else {
            record(path, key.defaultEntry)
            return key.defaultValue
        }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite,
            key.bound?.holds(value) ?? true
        else {
            throw failure(path, text, allowed: key.bound?.allowed ?? "a number")
        }
        record(path, .number(Self.format(value)))
        return value
    }

    /// An integer within the key's bound.
    mutating func read(_ section: [String], _ key: Key<Int>) throws -> Int {
        let path = section + [key.name]
        guard let text = raw(path) else {
            record(path, key.defaultEntry)
            return key.defaultValue
        }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), key.bound?.holds(value) ?? true else {
            throw failure(path, text, allowed: key.bound?.allowed ?? "an integer")
        }
        record(path, .number(String(value)))
        return value
    }

    /// `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`).
    mutating func read(_ section: [String], _ key: Key<Bool>) throws -> Bool {
        let path = section + [key.name]
        guard let text = raw(path) else {
            record(path, key.defaultEntry)
            return key.defaultValue
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
    mutating func read(_ section: [String], _ key: Key<[String]>) throws -> [String] {
        let path = section + [key.name]
        let values = (reader.stringArray(forKey: ConfigKey(path)) ?? key.defaultValue).filter { !$0.isEmpty }
        if let blank = values.first(where: { $0.allSatisfy(\.isWhitespace) }) {
            throw failure(path, blank, allowed: "a list of non-blank shell command lines")
        }
        // `/bin/sh -c` would run only what precedes a NUL: refuse rather than run another command.
        if let bad = values.first(where: { $0.utf8.contains(0) }) {
            throw failure(
                path, bad.replacingOccurrences(of: "\u{0}", with: "\\0"),
                allowed: "shell command lines without NUL characters")
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

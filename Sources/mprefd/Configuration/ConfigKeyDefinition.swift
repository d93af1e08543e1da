extension ConfigKeys {
    /// What every key of the table tells about itself, whatever its type.
    protocol AnyKey: Sendable {
        /// The key's name in its section (`max_delay_s`).
        var name: String { get }
        var unit: Unit { get }
        /// One line: what the key does.
        var meaning: String { get }
        /// The allowed values of a choice (`info`, `json`, …); empty for other keys.
        var choices: [String] { get }
        /// The default as `check-config` shows it; `.unset` when the key has none.
        var defaultEntry: ConfigEntry.Value { get }
    }

    /// One key: its name, default, the values it allows, unit and meaning. Built with ``text(_:_:_:_:)``,
    /// ``choice(_:_:_:_:)``, ``seconds(_:_:_:_:_:)``, ``number(_:_:_:_:_:_:)``, ``integer(_:_:_:_:_:_:)``,
    /// ``bool(_:_:_:)``, ``commands(_:_:)`` and ``optional(_:_:_:)``.
    struct Key<Value: Sendable>: AnyKey {
        let name: String
        let defaultValue: Value
        /// What a given value must be; `nil` for text the loader checks itself.
        let bound: Bound<Value>?
        let unit: Unit
        let meaning: String
        var choices: [String] = []
        let defaultEntry: ConfigEntry.Value
    }

    /// The values a key allows: the test, and the words a bad value's error names them with
    /// (`bad value for KEY: "VALUE" (SOURCE); expected ALLOWED`).
    struct Bound<Value>: Sendable {
        let allowed: String
        let holds: @Sendable (Value) -> Bool

        /// A number of seconds for which `holds` is true, at most ``ConfigKeys/maxSeconds``. The error
        /// names that ceiling only when `holds` alone would pass a larger value (a rule such as
        /// `10..604800` already says its own, and "at most 1000000000" after it would contradict it).
        static func seconds(_ allowed: String, _ holds: @escaping @Sendable (Double) -> Bool) -> Bound<Double> {
            let ceiling = holds(ConfigKeys.maxSeconds + 1) ? " (at most \(Int(ConfigKeys.maxSeconds)))" : ""
            return Bound<Double>(allowed: "a number of \(allowed)\(ceiling)") {
                $0 <= ConfigKeys.maxSeconds && holds($0)
            }
        }
    }

    /// The unit or kind of a key's value.
    enum Unit: Sendable, Equatable {
        case seconds, days, bytes, records, callbacks, callbacksPerSecond, times, dimensionless
        /// A bare number (a count, a factor).
        case plain
        case path, url, template, hostPort, text, secret, bool, choice, commands

        /// How the README's configuration table names it in the key's row (`""`: nothing to look for;
        /// a choice's row names its first and last value instead).
        var readme: String {
            switch self {
            case .seconds: "seconds"
            case .days: "days"
            case .bytes: "bytes"
            case .records: "records"
            case .callbacks: "callbacks"
            case .callbacksPerSecond: "callbacks per second"
            case .times: "times"
            case .dimensionless: "dimensionless"
            case .plain, .choice: ""
            case .path: "path"
            case .url: "URL"
            case .template: "template"
            case .hostPort: "host:port"
            case .text, .secret: "string"
            case .bool: "bool"
            case .commands: "command lines"
            }
        }
    }

    /// What may stand at a key of the file.
    indirect enum Shape: Sendable {
        /// A key of the table: a scalar, or a list for ``Unit/commands``.
        case key(any AnyKey)
        /// A mapping with exactly these keys (in documentation order).
        case section([(String, Shape)])
        /// A mapping keyed by MyPreferences client ID, each entry of this shape.
        case accounts(Shape)

        /// A section of `keys`, then `subsections`.
        static func keys(_ keys: [any AnyKey], _ subsections: [(String, Shape)] = []) -> Shape {
            .section(keys.map { ($0.name, .key($0)) } + subsections)
        }

        /// The allowed keys of a section, comma-separated.
        var allowedKeys: String {
            switch self {
            case .section(let keys): keys.map(\.0).joined(separator: ", ")
            case .accounts: "MyPreferences client IDs (1–128 of letters, digits, '_', '-', '.')"
            case .key(let key): key.unit == .commands ? "a list of values" : "a single value"
            }
        }
    }
}

extension ConfigKeys.Key where Value == String {
    /// Text the loader checks itself (a path, URL, template or address).
    static func text(_ name: String, _ defaultValue: String, _ unit: ConfigKeys.Unit, _ meaning: String) -> Self {
        Self(
            name: name, defaultValue: defaultValue, bound: nil, unit: unit, meaning: meaning,
            defaultEntry: .text(defaultValue))
    }

    /// One of `choices`.
    static func choice(_ name: String, _ defaultValue: String, _ choices: [String], _ meaning: String) -> Self {
        Self(
            name: name, defaultValue: defaultValue,
            bound: .init(allowed: "one of " + choices.joined(separator: "|")) { choices.contains($0) },
            unit: .choice, meaning: meaning, choices: choices, defaultEntry: .text(defaultValue))
    }
}

extension ConfigKeys.Key where Value == String? {
    /// Text without a default: unset when absent or empty. A ``ConfigKeys/Unit/secret`` is shown redacted.
    static func optional(_ name: String, _ unit: ConfigKeys.Unit, _ meaning: String) -> Self {
        Self(name: name, defaultValue: nil, bound: nil, unit: unit, meaning: meaning, defaultEntry: .unset)
    }
}

extension ConfigKeys.Key where Value == Double {
    /// Seconds, decimals allowed, for which `holds` is true (error: "a number of ALLOWED", plus
    /// "(at most 1000000000)" when `holds` sets no lower ceiling itself).
    static func seconds(
        _ name: String, _ defaultValue: Double, _ allowed: String, _ holds: @escaping @Sendable (Double) -> Bool,
        _ meaning: String
    ) -> Self {
        Self(
            name: name, defaultValue: defaultValue, bound: .seconds(allowed, holds), unit: .seconds, meaning: meaning,
            defaultEntry: .number(ConfigValueReader.format(defaultValue)))
    }

    /// Seconds bounded against another key by the loader (``bounded(_:_:)``); alone, any number of seconds.
    static func seconds(_ name: String, _ defaultValue: Double, _ meaning: String) -> Self {
        seconds(name, defaultValue, "seconds", { _ in true }, meaning)
    }

    /// A finite number for which `holds` is true.
    static func number(
        _ name: String, _ defaultValue: Double, _ unit: ConfigKeys.Unit, _ allowed: String,
        _ holds: @escaping @Sendable (Double) -> Bool, _ meaning: String
    ) -> Self {
        Self(
            name: name, defaultValue: defaultValue, bound: .init(allowed: allowed, holds: holds), unit: unit,
            meaning: meaning,
            defaultEntry: .number(ConfigValueReader.format(defaultValue)))
    }

    /// This key with the bound a rule between keys gives it (`max_delay_s >= initial_delay_s`).
    func bounded(_ allowed: String, _ holds: @escaping @Sendable (Double) -> Bool) -> Self {
        Self(
            name: name, defaultValue: defaultValue,
            bound: unit == .seconds ? .seconds(allowed, holds) : .init(allowed: allowed, holds: holds),
            unit: unit, meaning: meaning, defaultEntry: defaultEntry)
    }
}

extension ConfigKeys.Key where Value == Int {
    /// An integer for which `holds` is true.
    static func integer(
        _ name: String, _ defaultValue: Int, _ unit: ConfigKeys.Unit, _ allowed: String,
        _ holds: @escaping @Sendable (Int) -> Bool, _ meaning: String
    ) -> Self {
        Self(
            name: name, defaultValue: defaultValue, bound: .init(allowed: allowed, holds: holds), unit: unit,
            meaning: meaning,
            defaultEntry: .number(String(defaultValue)))
    }
}

extension ConfigKeys.Key where Value == Bool {
    /// `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`).
    static func bool(_ name: String, _ defaultValue: Bool, _ meaning: String) -> Self {
        Self(
            name: name, defaultValue: defaultValue, bound: nil, unit: .bool, meaning: meaning,
            defaultEntry: .bool(defaultValue))
    }
}

extension ConfigKeys.Key where Value == [String] {
    /// A list of shell command lines, empty by default.
    static func commands(_ name: String, _ meaning: String) -> Self {
        Self(name: name, defaultValue: [], bound: nil, unit: .commands, meaning: meaning, defaultEntry: .list([]))
    }
}

/// One key of the effective configuration, for `mprefd check-config`.
struct ConfigEntry: Sendable {
    /// Key path: `["polling", "max_delay_s"]`.
    var path: [String]
    var value: Value
    var source: Source

    enum Value: Sendable, Equatable {
        case text(String)
        /// A number already formatted (`10`, `2.5`).
        case number(String)
        case bool(Bool)
        case list([String])
        /// A secret that is set: printed as `<redacted>`.
        case redacted
        /// Not set, no default.
        case unset
    }

    enum Source: Sendable, Equatable {
        case byDefault
        case file
        /// The environment variable's name.
        case environment(String)
        /// Read from the file named by another key (`auth.secret_file`).
        case secretFile(String)

        var label: String {
            switch self {
            case .byDefault: "default"
            case .file: "file"
            case .environment(let name): "env \(name)"
            case .secretFile(let key): "from \(key)"
            }
        }
    }
}

import ArgumentParser
import Foundation

/// `mprefd check-config`: validate and print the effective configuration.
struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration and print it as mprefd sees it, secrets redacted.",
        discussion: """
            Prints every key after MPREFD_* environment overrides, with where its value came \
            from (default, file, env VARIABLE). Secrets print as <redacted>. A bad key or \
            value is an error naming the key, the value and what is allowed (exit 78).

            Examples:
              mprefd check-config
              MPREFD_POLLING_MAX_DELAY_S=60 mprefd check-config --config ./mprefd.yaml
              mprefd check-config --json | jq .polling
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print the configuration as a JSON object (values only).")
    var json = false

    func run() async throws {
        let configuration = try await global.loadConfiguration()
        let database = global.databaseLocation(configuration)
        if json {
            var root = ConfigRendering.tree(configuration.entries)
            root["config_file"] = configuration.filePath ?? NSNull()
            root["database_in_use"] = database.path
            let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            Output.line(String(decoding: data, as: UTF8.self))
            return
        }
        var lines = ["# config file: " + (configuration.filePath ?? "none (defaults and MPREFD_* environment only)")]
        lines.append("# database in use: \(database.path) (\(database.source ?? "--db"))")
        if configuration.accounts.isEmpty {
            lines.append("# no accounts: add-token accepts any valid --client-id")
        }
        lines.append(contentsOf: ConfigRendering.yamlLines(configuration.entries))
        Output.line(lines.joined(separator: "\n"))
    }
}

/// Printing ``ConfigEntry`` lists as YAML (with source comments) or as a JSON tree.
enum ConfigRendering {
    /// Nested YAML, each value followed by `# SOURCE`; valid YAML that mprefd would read back.
    static func yamlLines(_ entries: [ConfigEntry]) -> [String] {
        var lines: [(text: String, comment: String?)] = []
        var openPath: [String] = []
        for entry in entries where entry.value != .unset {
            let parents = Array(entry.path.dropLast())
            var common = 0
            while common < min(parents.count, openPath.count), parents[common] == openPath[common] { common += 1 }
            for depth in common..<parents.count {
                lines.append((String(repeating: "  ", count: depth) + yamlKey(parents[depth]) + ":", nil))
            }
            openPath = parents
            let key = String(repeating: "  ", count: parents.count) + yamlKey(entry.path.last ?? "")
            lines.append(("\(key): \(yamlValue(entry.value))", entry.source.label))
        }
        let width = lines.filter { $0.comment != nil }.map(\.text.count).max() ?? 0
        return lines.map { line in
            guard let comment = line.comment else { return line.text }
            return line.text + String(repeating: " ", count: width - line.text.count) + "  # " + comment
        }
    }

    /// Nested dictionaries of the values (numbers as numbers, secrets as `<redacted>`).
    static func tree(_ entries: [ConfigEntry]) -> [String: Any] {
        var root: [String: Any] = [:]
        for entry in entries where entry.value != .unset {
            insert(jsonValue(entry.value), at: entry.path[...], into: &root)
        }
        return root
    }

    private static func insert(_ value: Any, at path: ArraySlice<String>, into dictionary: inout [String: Any]) {
        guard let first = path.first else { return }
        if path.count == 1 {
            dictionary[first] = value
            return
        }
        var child = dictionary[first] as? [String: Any] ?? [:]
        insert(value, at: path.dropFirst(), into: &child)
        dictionary[first] = child
    }

    private static func jsonValue(_ value: ConfigEntry.Value) -> Any {
        switch value {
        case .text(let text): text
        case .number(let text): Int64(text).map { $0 as Any } ?? Double(text).map { $0 as Any } ?? text
        case .bool(let flag): flag
        case .list(let items): items
        case .redacted: "<redacted>"
        case .unset: NSNull()
        }
    }

    private static func yamlValue(_ value: ConfigEntry.Value) -> String {
        switch value {
        case .text(let text): yamlString(text)
        case .number(let text): text
        case .bool(let flag): flag ? "true" : "false"
        case .list(let items): "[" + items.map(ConfigValueReader.quote).joined(separator: ", ") + "]"
        case .redacted: "<redacted>"
        case .unset: "~"
        }
    }

    /// Plain when YAML would read it back as the same string, else double-quoted.
    private static func yamlString(_ text: String) -> String {
        let plainSafe = !text.isEmpty
            && text.allSatisfy { $0.isLetter || $0.isNumber || "/._-{}:@+".contains($0) }
            && !text.contains(": ") && !text.hasSuffix(":")
            && !"{}-:@".contains(text.first ?? " ")
            && Double(text) == nil
            && !["true", "false", "yes", "no", "on", "off", "null", "~"].contains(text.lowercased())
        return plainSafe ? text : ConfigValueReader.quote(text)
    }

    private static func yamlKey(_ key: String) -> String {
        yamlString(key)
    }
}

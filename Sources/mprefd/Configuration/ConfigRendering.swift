import Foundation

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
        let plainSafe =
            !text.isEmpty
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

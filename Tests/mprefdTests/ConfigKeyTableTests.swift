import Foundation
import MprefTestSupport
import Testing
@testable import mprefd
import MprefWorker

/// Issue 13 §4: the key table (``ConfigKeys``) is the one place a key's default, unit and bounds are
/// written; the README's configuration table, `etc/mprefd.yaml.example` and the worker's own
/// defaults are checked against it.
@Suite struct ConfigKeyTableTests {
    /// Every key of the table with its dotted path, accounts as `<ClientId>` (the README's spelling).
    static let keys = ConfigKeys.all(accountIDs: ["<ClientId>"]).map {
        (path: $0.path.joined(separator: "."), key: $0.key)
    }

    /// What the README's default column says for `entry` (`""` when the key has none).
    static func defaultText(_ entry: ConfigEntry.Value) -> String? {
        switch entry {
        case .text(let text): text
        case .number(let text): text
        case .bool(let flag): flag ? "true" : "false"
        case .list(let items): items.isEmpty ? "" : nil
        case .unset: ""
        case .redacted: nil
        }
    }

    /// The rows of the README's configuration table: the keys each names (full dotted paths, `…`
    /// kept as the start of a suffix), its default column split at ` / `, and its unit column.
    static func readmeRows() throws -> [(keys: [String], defaults: [String], unit: String)] {
        let readme = try String(contentsOfFile: BuiltBinaries.path("README.md"), encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = try #require(lines.firstIndex(of: "| key | default | unit / values | meaning |"))
        return lines[(header + 2)...].prefix { $0.hasPrefix("|") }.map { line in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            let names = cells[1].split(separator: "`", omittingEmptySubsequences: false).enumerated().filter {
                $0.offset % 2 == 1
            }.map { String($0.element) }
            let parent = names.first.map { String($0[..<($0.lastIndex(of: ".") ?? $0.startIndex)]) } ?? ""
            let keys = names.enumerated().map { $0.offset == 0 ? $0.element : parent + "." + $0.element }
            let defaults = cells[2].components(separatedBy: " / ").map { $0.replacingOccurrences(of: "`", with: "") }
            return (keys, defaults, cells[3])
        }
    }

    @Test func eachKeysReadmeRowGivesItsDefaultAndUnit() throws {
        let rows = try Self.readmeRows()
        #expect(rows.count > 40)
        for (path, key) in Self.keys {
            let matches = rows.compactMap {
                row -> (row: (keys: [String], defaults: [String], unit: String), index: Int)? in
                guard
                    let index = row.keys.firstIndex(where: {
                        $0 == path || ($0.hasPrefix("…") && path.hasSuffix($0.dropFirst()))
                    })
                else { return nil }
                return (row, index)
            }
            guard let (row, index) = matches.first, matches.count == 1 else {
                Issue.record("\(path): \(matches.count) rows of the README's configuration table name it (want 1)")
                continue
            }
            let given =
                row.defaults.count == row.keys.count
                ? row.defaults[index] : row.defaults.count == 1 ? row.defaults[0] : "?"
            let expected = try #require(Self.defaultText(key.defaultEntry))
            if expected.isEmpty {
                #expect(["—", "off", "none"].contains(given), "\(path): no default, the README says \(given)")
            } else {
                // "300" or "300 s"
                #expect(
                    given == expected || given.split(separator: " ").first.map(String.init) == expected,
                    "\(path): default \(expected), the README says \(given)")
            }
            if key.unit == .choice, let first = key.choices.first, let last = key.choices.last {
                #expect(
                    row.unit.contains(first) && row.unit.contains(last),
                    "\(path): the README's values \(row.unit) lack \(key.choices)")
            } else if !key.unit.readme.isEmpty {
                #expect(
                    row.unit.localizedCaseInsensitiveContains(key.unit.readme),
                    "\(path): unit \(key.unit.readme), the README says \(row.unit)")
            }
        }
    }

    /// Keys the example deliberately sets to something other than the default, and why.
    static let exampleExceptions: [String: String] = [
        "accounts.ACME_Co.base_url": "the example's account talks to the local simulator"
    ]

    @Test func theExampleSetsEveryKeyToItsDefault() async throws {
        let configuration = try await ConfigurationLoader(environment: [:], readsSecretFiles: false)
            .load(path: PackagingTests.exampleConfig, isExplicit: true)
        let table = Dictionary(
            uniqueKeysWithValues: ConfigKeys.all(accountIDs: configuration.clientIDs.map(\.value)).map {
                ($0.path.joined(separator: "."), $0.key)
            })
        let fromFile = configuration.entries.filter { $0.source == .file }
        // Every key with a default is set (the auth keys of other schemes are shown commented out).
        let withDefaults = Set(table.filter { $0.value.defaultEntry != .unset }.keys)
        #expect(Set(fromFile.map { $0.path.joined(separator: ".") }) == withDefaults)
        for entry in fromFile {
            let path = entry.path.joined(separator: ".")
            let key = try #require(table[path], "\(path) is not in the table")
            if Self.exampleExceptions[path] != nil {
                #expect(entry.value != key.defaultEntry, "\(path) is the default now: drop it from the exceptions")
            } else {
                #expect(
                    entry.value == key.defaultEntry,
                    "\(path): the example sets \(entry.value), the default is \(key.defaultEntry)")
            }
        }
    }

    /// The example's comments say "Default: X" above a key; X is the table's default.
    @Test func theExamplesDefaultCommentsMatchTheTable() throws {
        let lines = try String(contentsOfFile: PackagingTests.exampleConfig, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false
        ).map(String.init)
        let table = Dictionary(
            uniqueKeysWithValues: ConfigKeys.all(accountIDs: ["ACME_Co"]).map {
                ($0.path.joined(separator: "."), $0.key)
            })
        var stack: [String] = []
        var checked = 0
        for (number, line) in lines.enumerated() {
            let bare = line.trimmingCharacters(in: .whitespaces)
            guard !bare.isEmpty, !bare.hasPrefix("#"), let colon = bare.firstIndex(of: ":") else { continue }
            let depth = (line.count - line.drop { $0 == " " }.count) / 2
            stack = Array(stack.prefix(depth)) + [String(bare[..<colon])]
            guard let key = table[stack.joined(separator: ".")] else { continue }
            let comments = lines[..<number].reversed().prefix { $0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
                .joined(separator: " ")
            guard let range = comments.range(of: "Default: ") else { continue }
            var said = String(comments[range.upperBound...].prefix { !$0.isWhitespace })
            while let last = said.last, ".,;".contains(last) { said.removeLast() }
            let expected = try #require(Self.defaultText(key.defaultEntry))
            #expect(
                said == (expected.isEmpty ? "[]" : expected),
                "\(stack.joined(separator: ".")): the example's comment says Default: \(said), the table \(expected)")
            checked += 1
        }
        #expect(checked > 40)
    }

    /// The worker's types keep their own defaults (for in-process use); they must be the table's.
    @Test func loadingNothingGivesTheWorkersDefaults() async throws {
        let directory = try PackagingTools.temporaryDirectory("mprefd-key-table")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("mprefd.yaml").path
        try "accounts:\n  A:\n    auth:\n      scheme: none\n".write(toFile: file, atomically: true, encoding: .utf8)
        let configuration = try await ConfigurationLoader(environment: [:]).load(path: file, isExplicit: true)
        let plain = MprefdConfiguration()
        #expect(configuration.polling == plain.polling)
        #expect(configuration.hooks == plain.hooks)
        #expect(configuration.retention == plain.retention)
        #expect(configuration.busyTimeout == plain.busyTimeout)
        #expect(configuration.logLevel == plain.logLevel)
        #expect(configuration.logFormat == plain.logFormat)
        #expect(configuration.databasePath == plain.databasePath)
        let download = try #require(configuration.downloads["A"])
        #expect(download == type(of: download).init())
        #expect(configuration.entries.allSatisfy { $0.source == .byDefault || $0.path.last == "scheme" })
    }
}

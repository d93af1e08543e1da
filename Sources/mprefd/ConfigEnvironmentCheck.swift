/// Finds `MPREFD_*` environment variables that look like configuration overrides but name no key,
/// so a misspelled override (`MPREFD_POLLING_MAX_DELAY=60`) is an error instead of silently ignored.
///
/// Only variables under a configuration section (`MPREFD_DATABASE_`, `MPREFD_LOG_`,
/// `MPREFD_POLLING_`, `MPREFD_HOOKS_`, `MPREFD_METRICS_`, `MPREFD_ACCOUNTS_`) are checked: `MPREFD_CONFIG`,
/// `MPREFD_DB` and the variables mprefd gives hooks (`MPREFD_ACCESS_TOKEN`, …) are not overrides,
/// and a hook may well run `mprefd show "$MPREFD_ACCESS_TOKEN"` with them set.
enum ConfigEnvironmentCheck {
    /// The first unknown override in `environment` (sorted by name), with the closest known name
    /// when one is near, as a one-line error (exit 78); `nil` when every override names a key.
    ///
    /// - Parameter accountIDs: the client IDs the config file has (an override can change an
    ///   account's keys, not add an account).
    static func unknownOverride(in environment: [String: String], accountIDs: [String]) -> MprefdError? {
        let sections = sectionPrefixes
        let candidates = environment.keys.filter { name in sections.contains { name.hasPrefix($0) } }.sorted()
        guard !candidates.isEmpty else { return nil }
        let known = knownNames(accountIDs: accountIDs)
        guard let unknown = candidates.first(where: { !known.contains($0) }) else { return nil }
        let hint: String
        if let suggestion = known.filter({ closeEnough($0, unknown) }).min(by: { distance($0, unknown) < distance($1, unknown) }) {
            hint = "did you mean \(suggestion)?"
        } else if unknown.hasPrefix(ConfigKeys.environmentName(["accounts"]) + "_") {
            hint = "an override can change an account of the config file, not add one (the file has: \(accountIDs.isEmpty ? "none" : accountIDs.joined(separator: ", ")))"
        } else {
            hint = "`mprefd check-config` lists every key"
        }
        return MprefdError.configuration("unknown configuration override \(unknown) in the environment: no such key; \(hint) (fix its name or unset it)")
    }

    /// `MPREFD_<SECTION>_` for every top-level section of ``ConfigKeys/root``.
    static var sectionPrefixes: [String] {
        guard case .section(let sections) = ConfigKeys.root else { return [] }
        return sections.map { ConfigKeys.environmentName([$0.0]) + "_" }
    }

    /// The environment name of every key, accounts expanded for `accountIDs`.
    static func knownNames(accountIDs: [String]) -> Set<String> {
        var names: Set<String> = []
        func walk(_ shape: ConfigKeys.Shape, _ path: [String]) {
            switch shape {
            case .value, .list:
                names.insert(ConfigKeys.environmentName(path))
            case .section(let keys):
                for (key, child) in keys { walk(child, path + [key]) }
            case .accounts(let account):
                for id in accountIDs { walk(account, path + [id]) }
            }
        }
        walk(ConfigKeys.root, [])
        return names
    }

    private static func closeEnough(_ a: String, _ b: String) -> Bool {
        distance(a, b) <= max(2, min(a.count, b.count) / 8)
    }

    /// Levenshtein distance over UTF-8 bytes (the names are ASCII).
    private static func distance(_ a: String, _ b: String) -> Int {
        let b = Array(b.utf8)
        var previous = Array(0...b.count)
        for (i, x) in a.utf8.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}

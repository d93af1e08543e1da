import MprefWorker

/// Finds `MPREFD_*` environment variables that look like configuration overrides but would not
/// override what they seem to, so a mistake is an error (exit 78) instead of silently ignored:
///
/// - a name under a configuration section (`MPREFD_POLLING_…`, `MPREFD_ACCOUNTS_…`, …) that names no
///   key, or a name a letter or two from a key (`MPREFD_LOGLEVEL`);
/// - a known name in the wrong case (`mprefd_log_level`: variable names are case-sensitive);
/// - an account override whose name several client IDs spell alike (`a.b`, `a-b` and `A_B` all
///   give `MPREFD_ACCOUNTS_A_B_…`).
///
/// `MPREFD_CONFIG`, `MPREFD_DB` and the variables mprefd gives hooks (`MPREFD_ACCESS_TOKEN`, …) are
/// not overrides (a hook may well run `mprefd show "$MPREFD_ACCESS_TOKEN"`); other `MPREFD_*` names
/// far from every key (say `MPREFD_ETL_STATE_DIR`, a hook's own setting) are left alone.
enum ConfigEnvironmentCheck {
    /// The first problem among `environment`'s variables (sorted by name) as a one-line error, or `nil`.
    ///
    /// - Parameter accountIDs: the client IDs the config file has (an override can change an
    ///   account's keys, not add an account).
    static func unknownOverride(in environment: [String: String], accountIDs: [String]) -> MprefdError? {
        let prefix = ConfigKeys.environmentPrefix + "_"
        let notOverrides = HookPayload.variableNames.union(["MPREFD_CONFIG", "MPREFD_DB"])
        let candidates = environment.keys.filter { $0.uppercased().hasPrefix(prefix) && !notOverrides.contains($0) }
            .sorted()
        guard !candidates.isEmpty else { return nil }
        let known = knownNames(accountIDs: accountIDs)
        let sections = sectionPrefixes
        for name in candidates {
            if let owners = known[name] {
                if owners.count > 1 {
                    return failure(
                        "\(name) would override accounts \(owners.joined(separator: ", ")) alike (their client IDs spell the same variable); set this key in the config file instead"
                    )
                }
                continue
            }
            let upper = name.uppercased()
            if upper != name, known[upper] != nil || notOverrides.contains(upper) {
                return failure(
                    "\(name) is not \(upper): environment variable names are case-sensitive; did you mean \(upper)?")
            }
            let nearest = known.keys.filter { closeEnough($0, upper) }.min { distance($0, upper) < distance($1, upper) }
            guard nearest != nil || sections.contains(where: { upper.hasPrefix($0) }) else { continue }
            let hint: String
            if let nearest {
                hint = "did you mean \(nearest)?"
            } else if upper.hasPrefix(ConfigKeys.environmentName(["accounts"]) + "_") {
                hint =
                    "an override can change an account of the config file, not add one (the file has: \(accountIDs.isEmpty ? "none" : accountIDs.joined(separator: ", ")))"
            } else {
                hint = "`mprefd check-config` lists every key"
            }
            return failure("unknown configuration override \(name) in the environment: no such key; \(hint)")
        }
        return nil
    }

    private static func failure(_ text: String) -> MprefdError {
        MprefdError.configuration(text + " (fix its name or unset it)")
    }

    /// `MPREFD_<SECTION>_` for every top-level section of ``ConfigKeys/root``.
    static var sectionPrefixes: [String] {
        guard case .section(let sections) = ConfigKeys.root else { return [] }
        return sections.map { ConfigKeys.environmentName([$0.0]) + "_" }
    }

    /// The environment name of every key, accounts expanded for `accountIDs`, with the client IDs
    /// whose keys it overrides (empty for keys outside `accounts`; several when client IDs collide).
    static func knownNames(accountIDs: [String]) -> [String: [String]] {
        var names: [String: [String]] = [:]
        for (path, _, account) in ConfigKeys.all(accountIDs: accountIDs) {
            names[ConfigKeys.environmentName(path), default: []] += account.map { [$0] } ?? []
        }
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

import MprefCore
import MprefStore

/// Where a set of waited-for tokens stands. Pure.
struct WaitProgress {
    /// The tokens in the order named, as last read; a purged token keeps its last known row, marked removed.
    var tokens: [TokenRecord]

    init(expected: [TokenRecord], found: [TokenRecord]) {
        let byID = Dictionary(uniqueKeysWithValues: found.map { ($0.id, $0) })
        tokens = expected.map { token in
            if let current = byID[token.id] { return current }
            var purged = token
            purged.state = .removed
            purged.lastError = "purged from the database"
            return purged
        }
    }

    static func isSuccess(_ state: TokenState) -> Bool { state == .complete || state == .retrieved }
    static func isFinished(_ state: TokenState) -> Bool { state.isTerminal || state == .removed }

    var finished: [TokenRecord] { tokens.filter { Self.isFinished($0.state) } }
    var unfinished: [TokenRecord] { tokens.filter { !Self.isFinished($0.state) } }
    var failures: [TokenRecord] { finished.filter { !Self.isSuccess($0.state) } }
    var isFinished: Bool { unfinished.isEmpty }

    /// `ACME_Co/1001 complete Complete rows=1200 bytes=4500000`.
    static func line(_ token: TokenRecord) -> String {
        var parts = [token.displayName, token.state.rawValue, token.lastStatus ?? "-"]
        if let rows = token.rowCount { parts.append("rows=\(rows)") }
        if let bytes = token.byteCount { parts.append("bytes=\(bytes)") }
        if !isSuccess(token.state), isFinished(token.state), let error = token.lastError {
            parts.append("error: \(error)")
        }
        return parts.joined(separator: " ")
    }

    /// `finished: 2 complete, 1 failed`.
    var summary: String {
        var counts: [(TokenState, Int)] = []
        for state in TokenState.allCases {
            let n = tokens.filter { $0.state == state }.count
            if n > 0 { counts.append((state, n)) }
        }
        return "finished: " + counts.map { "\($0.1) \($0.0.rawValue)" }.joined(separator: ", ")
    }

    var failureMessage: String {
        "\(failures.count) of \(tokens.count) token\(tokens.count == 1 ? "" : "s") did not complete: "
            + failures.map { "\($0.displayName) \($0.state.rawValue)" + ($0.lastStatus.map { " (\($0))" } ?? "") }
            .joined(separator: ", ")
    }

    var unfinishedSummary: String {
        "\(unfinished.count) of \(tokens.count) token\(tokens.count == 1 ? "" : "s") not finished ("
            + unfinished.map { "\($0.displayName) \($0.state.rawValue)" + ($0.lastStatus.map { " \($0)" } ?? "") }
            .joined(separator: ", ") + ")"
    }
}

import MprefStore

/// Turning the access tokens named on a command line into database rows.
enum TokenSelection {
    /// Parses every access token in `texts`, failing on the first bad one (nothing is looked up or
    /// written before all are good). Duplicates are dropped, first occurrence kept.
    ///
    /// - Throws: `MprefdError` exit 64 naming the value.
    static func parse(_ texts: [String]) throws -> [Int64] {
        var seen = Set<Int64>()
        var tokens: [Int64] = []
        for text in texts {
            guard let token = AdminValues.accessToken(text) else {
                throw MprefdError.usage("bad access token '\(text)': \(AdminValues.accessTokenRule)")
            }
            if seen.insert(token).inserted { tokens.append(token) }
        }
        return tokens
    }

    /// Checks the syntax of a `--client-id` used as a filter (any valid client ID, configured or not).
    static func checkClientID(_ clientID: String?) throws {
        if let clientID, !AdminValues.isValidClientID(clientID) {
            throw MprefdError.usage("bad client ID '\(clientID)': \(AdminValues.clientIDRule)")
        }
    }

    /// The one row per access token, under `clientID` when given.
    ///
    /// - Throws: `MprefdError` exit 1 when a token is not watched (naming it), exit 64 when a token
    ///   exists under several client IDs and `clientID` is `nil` (listing them); `StoreError`.
    static func resolve(_ tokens: [Int64], clientID: String?, in database: TokenDatabase) throws -> [TokenRecord] {
        var records: [TokenRecord] = []
        for token in tokens {
            let found = try database.findTokens(accessToken: token, clientID: clientID)
            if found.isEmpty {
                throw MprefdError.notFound(notFoundMessage(token, clientID: clientID))
            }
            if found.count > 1 {
                let ids = found.map(\.clientID).joined(separator: ", ")
                throw MprefdError.usage("access token \(token) exists under several client IDs (\(ids)); choose one with --client-id")
            }
            records.append(contentsOf: found)
        }
        return records
    }

    static func notFoundMessage(_ token: Int64, clientID: String?) -> String {
        if let clientID { return "no token \(token) (client ID \(clientID)); see `mprefd list`" }
        return "no token \(token) (under any client ID); see `mprefd list`"
    }
}

extension TokenRecord {
    /// `ACME_Co/123`: how commands name one token.
    var displayName: String { "\(clientID)/\(accessToken)" }
}

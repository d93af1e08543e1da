import MprefCore
import MprefStore

/// Turning the access tokens named on a command line into database rows.
enum TokenSelection {
    /// Parses every access token in `texts`, failing on the first bad one (nothing is looked up or
    /// written before all are good). Duplicates are dropped, first occurrence kept.
    ///
    /// `add-token` only, whose positional tokens and `--stdin` lines share these messages (`bad access
    /// token '-5': …`); other commands take ``AccessToken``s, parsed by ArgumentParser.
    ///
    /// - Throws: `MprefdError` exit 64 naming the value.
    static func parse(_ texts: [String]) throws -> [AccessToken] {
        var seen = Set<AccessToken>()
        var tokens: [AccessToken] = []
        for text in texts {
            guard let token = AccessToken(digits: text) else {
                throw MprefdError.usage("bad access token '\(text)': \(AccessToken.rule)")
            }
            if seen.insert(token).inserted { tokens.append(token) }
        }
        return tokens
    }

    /// The one row per access token, under `clientID` when given.
    ///
    /// - Throws: `MprefdError` exit 1 when a token is not watched (naming it), exit 64 when a token
    ///   exists under several client IDs and `clientID` is `nil` (listing them); `StoreError`.
    static func resolve(_ tokens: [AccessToken], clientID: ClientID?, in database: some TokenLookup) throws
        -> [TokenRecord]
    {
        try lookUp(
            tokens, clientID: clientID, in: database,
            missing: { MprefdError.notFound(notFoundMessage($0, clientID: clientID)) })
    }

    /// The one row per access token, in the order of `tokens`, from one set-based lookup
    /// (`TokenLookup.findTokens(accessTokens:clientID:)`).
    ///
    /// - Throws: `missing(token)` for the first token without a row, `MprefdError` exit 64 when a token
    ///   exists under several client IDs and `clientID` is `nil` (listing them); `StoreError`.
    static func lookUp(
        _ tokens: [AccessToken], clientID: ClientID?, in database: some TokenLookup,
        missing: (AccessToken) -> MprefdError
    ) throws -> [TokenRecord] {
        var found: [AccessToken: [TokenRecord]] = [:]
        for record in try database.findTokens(accessTokens: tokens, clientID: clientID) {
            found[record.accessToken, default: []].append(record)
        }
        var records: [TokenRecord] = []
        records.reserveCapacity(tokens.count)
        for token in tokens {
            let rows = found[token] ?? []
            guard let first = rows.first else { throw missing(token) }
            if rows.count > 1 {
                let ids = rows.map(\.clientID).joined(separator: ", ")
                throw MprefdError.usage(
                    "access token \(token) exists under several client IDs (\(ids)); choose one with --client-id")
            }
            records.append(first)
        }
        return records
    }

    static func notFoundMessage(_ token: AccessToken, clientID: ClientID?) -> String {
        if let clientID { return "no token \(token) (client ID \(clientID)); see `mprefd list`" }
        return "no token \(token) (under any client ID); see `mprefd list`"
    }
}

extension TokenRecord {
    /// `ACME_Co/123`: how commands name one token.
    var displayName: String { "\(clientID)/\(accessToken)" }
}

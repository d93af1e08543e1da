import GRDB
import MprefCore

// The identifiers of MprefCore read from and bound to SQLite directly. A value of the wrong kind (text,
// a real, NULL), out of range (a real beyond Int64) or breaking the type's rule (an access token ≤ 0, a
// client ID with a `/`) converts to `nil`, which GRDB's throwing accessors (`row.decode`, record decoding)
// report as a decoding error — never a trap.

extension AccessToken: DatabaseValueConvertible {
    /// An INTEGER.
    package var databaseValue: DatabaseValue { value.databaseValue }

    /// A positive INTEGER (the `tokens.access_token > 0` CHECK); `nil` otherwise.
    package static func fromDatabaseValue(_ dbValue: DatabaseValue) -> AccessToken? {
        guard case .int64(let value) = dbValue.storage, value > 0 else { return nil }
        return AccessToken(value)
    }
}

extension TokenID: DatabaseValueConvertible {
    /// An INTEGER.
    package var databaseValue: DatabaseValue { value.databaseValue }

    /// An INTEGER; `nil` otherwise.
    package static func fromDatabaseValue(_ dbValue: DatabaseValue) -> TokenID? {
        guard case .int64(let value) = dbValue.storage else { return nil }
        return TokenID(value)
    }
}

extension ClientID: DatabaseValueConvertible {
    /// TEXT.
    package var databaseValue: DatabaseValue { value.databaseValue }

    /// TEXT that is a valid client ID (``ClientID/rule``); `nil` otherwise.
    package static func fromDatabaseValue(_ dbValue: DatabaseValue) -> ClientID? {
        guard case .string(let text) = dbValue.storage else { return nil }
        return ClientID(text)
    }
}

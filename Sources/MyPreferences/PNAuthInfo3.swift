import Crypto
import Foundation
import MprefCore

/// The `PNAUTHINFO3-HMAC-SHA256` authorization scheme (PossibleNOW integration-API docs,
/// "Authentication": a keyed hash over client ID, user ID and an issued timestamp, valid for
/// 15 minutes by default; the scheme name is case-insensitive on the server).
///
/// `Authorization: PNAUTHINFO3-HMAC-SHA256 Credential={UserId}/{timestamp} Signature={sig}` where
/// `sig = base64(HMAC-SHA256(key: secret as UTF-8, message: "{ClientId}:{UserId}:{timestamp}"))`.
/// Sign every request afresh; the timestamp is never in the future.
package enum PNAuthInfo3 {
    /// The scheme name as sent.
    package static let scheme = "PNAUTHINFO3-HMAC-SHA256"

    /// The base64 signature of `"{clientID}:{userID}:{timestamp}"` keyed with `secret` (UTF-8).
    package static func signature(secret: String, clientID: String, userID: String, timestamp: String) -> String {
        let key = SymmetricKey(data: Data(secret.utf8))
        let message = Data("\(clientID):\(userID):\(timestamp)".utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: key)
        return Data(mac).base64EncodedString()
    }

    /// The full `Authorization` field value for one request.
    package static func header(secret: String, clientID: String, userID: String, timestamp: String) -> String {
        let sig = signature(secret: secret, clientID: clientID, userID: userID, timestamp: timestamp)
        return "\(scheme) Credential=\(userID)/\(timestamp) Signature=\(sig)"
    }

    /// `date` as the issued timestamp: UTC `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`, milliseconds truncated so
    /// it is never later than `date`. Independent of the host's locale, time zone and calendar.
    package static func timestamp(for date: Date) -> String {
        CivilTime.iso8601Milliseconds(date)
    }
}

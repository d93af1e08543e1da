import Crypto
import Foundation

/// Verifies the `Authorization` header of an API request the way MyPreferences does.
/// Pure apart from reading issued OAuth tokens from ``SimulatorState``.
struct Authenticator: Sendable {
    /// Why a request was refused; the reason is sent in the 401 body (never a credential).
    struct Refusal: Error, Equatable {
        var reason: String
    }

    static let pnauthinfo3Scheme = "PNAUTHINFO3-HMAC-SHA256"

    let auth: SimulatorAuth
    let validity: Duration
    let skew: Duration
    let state: SimulatorState

    /// The scheme name worth recording for `authorization`: a known scheme in its canonical spelling,
    /// `other` for anything else (it might be a bare credential), nil without a header.
    static func presentedScheme(_ authorization: String?) -> String? {
        guard let authorization else { return nil }
        let word = authorization.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? ""
        switch word.lowercased() {
        case pnauthinfo3Scheme.lowercased(): return pnauthinfo3Scheme
        case "bearer": return "Bearer"
        case "basic": return "Basic"
        default: return "other"
        }
    }

    /// Checks `authorization` for a request on `clientID` at `now`; throws ``Refusal`` when it must get 401.
    func verify(authorization: String?, clientID: String, now: Date) throws(Refusal) {
        switch auth {
        case .none:
            return
        case .pnauthinfo3(let users):
            try verifyPNAuthInfo3(authorization, clientID: clientID, users: users, now: now)
        case .oauth:
            try verifyBearer(authorization, clientID: clientID, now: now)
        }
    }

    private func verifyBearer(_ authorization: String?, clientID: String, now: Date) throws(Refusal) {
        guard let authorization else { throw Refusal(reason: "missing Authorization header") }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Refusal(reason: "expected Authorization: Bearer <token>")
        }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        guard let issued = state.issuedToken(token) else { throw Refusal(reason: "unknown bearer token") }
        guard now < issued.expiresAt else { throw Refusal(reason: "bearer token expired") }
        guard issued.clientID == clientID else {
            throw Refusal(reason: "bearer token scope does not cover this client ID")
        }
    }

    private func verifyPNAuthInfo3(_ authorization: String?, clientID: String, users: [String: String], now: Date)
        throws(Refusal)
    {
        guard let authorization else { throw Refusal(reason: "missing Authorization header") }
        guard let credentials = Self.parsePNAuthInfo3(authorization) else {
            throw Refusal(reason: "malformed PNAUTHINFO3-HMAC-SHA256 Authorization header")
        }
        guard let secret = users[credentials.userID] else { throw Refusal(reason: "unknown user ID") }
        guard let issuedAt = UTCTimestamp.parseISO8601(credentials.timestamp) else {
            throw Refusal(reason: "IssuedTimestamp is not ISO 8601 UTC")
        }
        let age = now.timeIntervalSince(issuedAt)
        guard age >= -skew.secondsDouble else { throw Refusal(reason: "IssuedTimestamp is in the future") }
        guard age <= validity.secondsDouble else { throw Refusal(reason: "IssuedTimestamp is too old") }
        guard let presented = Data(base64Encoded: credentials.signature) else {
            throw Refusal(reason: "Signature is not base64")
        }
        let message = Data("\(clientID):\(credentials.userID):\(credentials.timestamp)".utf8)
        let key = SymmetricKey(data: Data(secret.utf8))
        // Constant-time comparison of the whole MAC.
        guard presented.count == SHA256.byteCount,
            HMAC<SHA256>.isValidAuthenticationCode(presented, authenticating: message, using: key)
        else { throw Refusal(reason: "signature mismatch") }
    }

    struct PNAuthInfo3Credentials: Equatable {
        var userID: String
        var timestamp: String
        var signature: String
    }

    /// Parses `PNAUTHINFO3-HMAC-SHA256 Credential={UserId}/{IssuedTimestamp} Signature={sig}` (scheme
    /// case-insensitive; parameters separated by spaces and/or commas). The user ID may itself contain `/`:
    /// the timestamp is what follows the last one.
    static func parsePNAuthInfo3(_ header: String) -> PNAuthInfo3Credentials? {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }),
            trimmed[..<space].lowercased() == pnauthinfo3Scheme.lowercased()
        else { return nil }
        var credential: Substring?
        var signature: Substring?
        for parameter in trimmed[space...].split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
            guard let equals = parameter.firstIndex(of: "=") else { return nil }
            let name = parameter[..<equals].lowercased()
            let value = parameter[parameter.index(after: equals)...]
            switch name {
            case "credential": credential = value
            case "signature": signature = value
            default: return nil
            }
        }
        guard let credential, let signature, !signature.isEmpty,
            let slash = credential.lastIndex(of: "/")
        else { return nil }
        let userID = credential[..<slash]
        let timestamp = credential[credential.index(after: slash)...]
        guard !userID.isEmpty, !timestamp.isEmpty else { return nil }
        return PNAuthInfo3Credentials(
            userID: String(userID), timestamp: String(timestamp), signature: String(signature))
    }

    /// `base64(HMAC-SHA256(key: secret UTF-8, message: "{clientID}:{userID}:{issuedTimestamp}"))`.
    static func signature(secret: String, clientID: String, userID: String, issuedTimestamp: String) -> String {
        let key = SymmetricKey(data: Data(secret.utf8))
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("\(clientID):\(userID):\(issuedTimestamp)".utf8), using: key)
        return Data(mac).base64EncodedString()
    }

    /// Compares two secrets in time independent of where they differ.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(truncatingIfNeeded: x.count ^ y.count)
        for i in 0..<max(x.count, y.count) {
            let left = i < x.count ? x[i] : 0
            let right = i < y.count ? y[i] : 0
            difference |= left ^ right
        }
        return difference == 0 && x.count == y.count
    }
}

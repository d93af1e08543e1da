import Foundation
import MprefCore

/// How to reach and authenticate to one MyPreferences account (one client ID).
package struct AccountConfiguration: Sendable {
    /// The MyPreferences ClientId: the `{clientId}` path parameter.
    package var clientID: ClientID
    /// Base URL; default `https://pm.mypreferences.com/Profiles` (staging: `https://pmstg.mypreferences.com/Profiles`).
    package var baseURL: String
    /// Status path template below `baseURL`, with `{clientId}` and `{accessToken}` placeholders (each
    /// percent-encoded as one path segment). Default `Async/{clientId}/Export/{accessToken}/Status`;
    /// the API/3 form is `{clientId}/status/Token/{accessToken}`.
    package var statusPath: String
    /// The media type asked for in `Accept`; the response's own `Content-Type` picks the decoder.
    package var accept: MediaType
    /// TCP (and TLS) connect timeout; default 10 s.
    package var connectTimeout: Duration
    /// Whole-request deadline, from send to last body byte; default 30 s.
    package var requestTimeout: Duration
    /// Largest response body read, in bytes; a larger one is `.transportError(.bodyTooLarge)`. Default 65,536.
    package var maxBodyBytes: Int
    /// Allow plain `http://` to a non-loopback host. Default `false` (loopback `http://` is always allowed).
    package var allowInsecureHTTP: Bool
    /// The authentication scheme.
    package var auth: Authentication
    /// Retrieve (one page of a completed export) path template below `baseURL`, placeholders as in
    /// ``statusPath``; the client adds `?limit=&offset=&keepAlive=true`. Not in the vendor's public
    /// Profiles pages: default `Async/{clientId}/Export/Segment/{accessToken}` (the API/3 form,
    /// documented, is `{clientId}/export/Segment/{accessToken}`).
    package var retrievePath: String
    /// Commit path template below `baseURL`; the client adds `?keepFiles=true|false`. Not in the
    /// vendor's public Profiles pages: default `Async/{clientId}/Export/Segment/Commit/{accessToken}`
    /// (API/3 by analogy: `{clientId}/export/Segment/Commit/{accessToken}`).
    package var commitPath: String
    /// Initiate path template below `baseURL` (`POST`, JSON body): `{clientId}` and `{segmentName}`,
    /// each one percent-encoded path segment. Default `Async/{clientId}/Export/Segment/{segmentName}`
    /// (MyPreferences Profiles API help; API/3: `{clientId}/export/Segment/{segmentName}`).
    package var initiatePath: String
    /// Largest page body read, in bytes (a larger one is `.transportError(.bodyTooLarge)`); default 64 MiB
    /// (a 1,000-record page of profiles is about 1 MB; a page is held whole while it is checked).
    package var maxPageBytes: Int
    /// Whole-request deadline of one page, from send to last body byte; default 300 s.
    package var pageTimeout: Duration

    package static let defaultBaseURL = "https://pm.mypreferences.com/Profiles"
    package static let defaultStatusPath = "Async/{clientId}/Export/{accessToken}/Status"
    package static let defaultRetrievePath = "Async/{clientId}/Export/Segment/{accessToken}"
    package static let defaultCommitPath = "Async/{clientId}/Export/Segment/Commit/{accessToken}"
    package static let defaultInitiatePath = "Async/{clientId}/Export/Segment/{segmentName}"
    package static let defaultMaxPageBytes = 67_108_864

    package init(
        clientID: ClientID,
        baseURL: String = Self.defaultBaseURL,
        statusPath: String = Self.defaultStatusPath,
        accept: MediaType = .json,
        connectTimeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(30),
        maxBodyBytes: Int = 65_536,
        allowInsecureHTTP: Bool = false,
        auth: Authentication = .none,
        retrievePath: String = Self.defaultRetrievePath,
        commitPath: String = Self.defaultCommitPath,
        maxPageBytes: Int = Self.defaultMaxPageBytes,
        pageTimeout: Duration = .seconds(300),
        initiatePath: String = Self.defaultInitiatePath
    ) {
        self.initiatePath = initiatePath
        self.retrievePath = retrievePath
        self.commitPath = commitPath
        self.maxPageBytes = maxPageBytes
        self.pageTimeout = pageTimeout
        self.clientID = clientID
        self.baseURL = baseURL
        self.statusPath = statusPath
        self.accept = accept
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxBodyBytes = maxBodyBytes
        self.allowInsecureHTTP = allowInsecureHTTP
        self.auth = auth
    }

    /// `json` (`application/json`) or `xml` (`application/xml`).
    package enum MediaType: String, Sendable, CaseIterable {
        case json, xml
    }
}

/// The `Authorization` scheme for an account.
package enum Authentication: Sendable {
    /// No `Authorization` header (the simulator, loopback tests).
    case none
    /// `PNAUTHINFO3-HMAC-SHA256`, signed afresh per request with the HMAC key `secret`.
    case pnauthinfo3(userID: String, secret: Secret)
    /// OAuth 2.0 client credentials against `tokenURL`, scope `{ClientId}/{UserId}`.
    case oauth(tokenURL: String, oauthClientID: String, oauthClientSecret: Secret, userID: String)

    /// The scheme's name as configured: `none`, `pnauthinfo3`, `oauth`.
    package var schemeName: String {
        switch self {
        case .none: "none"
        case .pnauthinfo3: "pnauthinfo3"
        case .oauth: "oauth"
        }
    }
}

/// A secret value (HMAC key, OAuth client secret). Prints as `<redacted>` everywhere —
/// `description`, `debugDescription`, string interpolation, `dump` — so it cannot leak by accident.
package struct Secret: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret itself; read it only where it is used (signing, token requests).
    package let value: String
    package init(_ value: String) { self.value = value }
    package var description: String { "<redacted>" }
    package var debugDescription: String { "<redacted>" }
    package var customMirror: Mirror { Mirror(reflecting: "<redacted>") }
}

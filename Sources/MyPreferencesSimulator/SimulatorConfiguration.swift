import Foundation

/// How the simulator checks the `Authorization` header of API requests, as the real service would.
package enum SimulatorAuth: Sendable {
    /// Accept any request, with or without credentials.
    case none
    /// `Authorization: PNAUTHINFO3-HMAC-SHA256 Credential={UserId}/{IssuedTimestamp} Signature={sig}`,
    /// `sig = base64(HMAC-SHA256(key: secret, message: "{ClientId}:{UserId}:{IssuedTimestamp}"))` with the
    /// path's client ID. `users` maps UserId → secret (the HMAC key, used as UTF-8 bytes).
    case pnauthinfo3(users: [String: String])
    /// OAuth 2.0 client credentials: the token endpoint checks `clients` (OAuth client id → client secret)
    /// and issues bearer tokens living `tokenLifetime`; API requests need `Authorization: Bearer <live token>`
    /// whose scope `{ClientId}/{UserId}` names the path's client ID.
    case oauth(clients: [String: String], tokenLifetime: Duration)
}

/// Everything the simulator needs to start. All fields have defaults suited to a test on loopback.
package struct SimulatorConfiguration: Sendable {
    /// Address to bind. Default `127.0.0.1`.
    package var host: String
    /// Port to bind; 0 (default) picks a free ephemeral port, reported by ``MyPreferencesSimulator/port``.
    package var port: Int
    /// Path prefix of the API, no trailing slash. Default `/Profiles` (base URL `http://127.0.0.1:PORT/Profiles`).
    package var pathPrefix: String
    /// Authentication mode. Default ``SimulatorAuth/none``.
    package var auth: SimulatorAuth
    /// Absolute path of the OAuth token endpoint; nil (default) means `{pathPrefix}/oauth/token`.
    package var oauthTokenPath: String?
    /// How old a PNAUTHINFO3 `IssuedTimestamp` may be. Default 15 minutes (the vendor's default).
    package var pnauthinfo3Validity: Duration
    /// How far in the future a PNAUTHINFO3 `IssuedTimestamp` may be, for clock skew. Default 5 s.
    package var clockSkewAllowance: Duration
    /// Scripted scenarios and host-wide 503 windows (windows count from server start).
    package var scenarios: ScenarioBook
    /// Scenario for tokens without one, unless ``scenarios`` has a `default`. Default ``Scenario/standard``.
    package var defaultScenario: Scenario
    /// First access token handed out by the initiate endpoint; later ones increase by 1. Default 1.
    package var firstAccessToken: Int64
    /// Whether requests are recorded (``MyPreferencesSimulator/requests()``, `GET /_sim/requests`). Default true.
    package var recordsRequests: Bool
    /// How many recorded requests are kept; older ones are discarded first. Default 1,000,000.
    package var requestRecordLimit: Int
    /// When set, each recorded request is also appended to this file as one JSON line.
    package var requestLogPath: String?
    /// Whether SIGTERM/SIGINT shut the simulator down gracefully (for the executable). Default false.
    package var stopsOnTerminationSignals: Bool
    /// The wall clock used for timestamps, token expiry, Retry-After dates and 503 windows. Default `Date()`.
    package var now: @Sendable () -> Date

    /// Creates a configuration; every parameter has the default documented on its property.
    package init(
        host: String = "127.0.0.1",
        port: Int = 0,
        pathPrefix: String = "/Profiles",
        auth: SimulatorAuth = .none,
        oauthTokenPath: String? = nil,
        pnauthinfo3Validity: Duration = .seconds(15 * 60),
        clockSkewAllowance: Duration = .seconds(5),
        scenarios: ScenarioBook = ScenarioBook(),
        defaultScenario: Scenario = .standard,
        firstAccessToken: Int64 = 1,
        recordsRequests: Bool = true,
        requestRecordLimit: Int = 1_000_000,
        requestLogPath: String? = nil,
        stopsOnTerminationSignals: Bool = false,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix
        self.auth = auth
        self.oauthTokenPath = oauthTokenPath
        self.pnauthinfo3Validity = pnauthinfo3Validity
        self.clockSkewAllowance = clockSkewAllowance
        self.scenarios = scenarios
        self.defaultScenario = defaultScenario
        self.firstAccessToken = firstAccessToken
        self.recordsRequests = recordsRequests
        self.requestRecordLimit = requestRecordLimit
        self.requestLogPath = requestLogPath
        self.stopsOnTerminationSignals = stopsOnTerminationSignals
        self.now = now
    }

    /// The prefix with a leading slash and no trailing slash (`""` for the root).
    var normalizedPrefix: String {
        var prefix = pathPrefix
        while prefix.hasSuffix("/") { prefix.removeLast() }
        if !prefix.isEmpty && !prefix.hasPrefix("/") { prefix = "/" + prefix }
        return prefix
    }

    /// The token endpoint path actually served.
    var effectiveOAuthTokenPath: String {
        oauthTokenPath ?? normalizedPrefix + "/oauth/token"
    }
}

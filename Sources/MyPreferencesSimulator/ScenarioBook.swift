/// Everything scripted in one place: the scenario file given to `mpref-sim --scenarios`, the body of
/// `POST /_sim/scenarios`, and ``SimulatorConfiguration/scenarios``.
///
/// ```json
/// {
///   "default": [ {"status": "Processing", "repeat": 3}, {"status": "Complete", "row_count": 1000, "byte_count": 123456} ],
///   "scenarios": [
///     {"access_token": 42, "steps": [ {"http": 500}, {"status": "Complete", "row_count": 7, "byte_count": 99} ]},
///     {"client_id": "ACME_Co", "access_token": 43, "steps": [ {"drop": true}, {"status": "Failed"} ]}
///   ],
///   "host_unavailable": [ {"from_s": 5, "to_s": 10, "retry_after_s": 3, "form": "seconds"} ],
///   "segments": [
///     {"name": "Newsletter", "client_id": "ACME_Co", "records": 12000, "processing_s": 3,
///      "changes_per_s": 2, "history_s": 86400, "seed": 7, "initiate_faults": [ {"drop": true} ]}
///   ]
/// }
/// ```
/// - `default` (optional): the ``Scenario`` for tokens that have none (when absent, ``Scenario/standard``
///   or ``SimulatorConfiguration/defaultScenario``).
/// - `scenarios` (optional): per access token (`client_id` omitted: any client ID) or per client ID and
///   access token (`client_id` given; wins over a token-only entry). Steps are documented on ``Scenario``.
/// - `host_unavailable` (optional): windows in seconds (fractions allowed) during which **every** API
///   request (status, initiate, OAuth token) gets 503, with `Retry-After` when `retry_after_s` is given
///   (`form` as for the `unavailable` step). In the file/configuration the offsets count from server
///   start; in `POST /_sim/scenarios` (and ``MyPreferencesSimulator/setHostUnavailable(_:)``) they count
///   from the moment the windows are set.
/// - `segments` (optional): the segments the initiate endpoint can export, per name (matched exactly) and
///   client ID (`client_id` omitted: every client ID; an entry with `client_id` wins over one without).
///   Keys, the dataset's change times and the initiate faults are documented on ``SegmentScenario``; the
///   initiate itself on ``MyPreferencesSimulator``. While no segment is configured at all, initiate keeps
///   its scenario-only behaviour: any client ID and segment name get a fresh access token.
///
/// Applied at runtime, a book is merged: each entry replaces the one with the same key (and restarts that
/// token's progress; a segment entry, keyed by name and `client_id`, restarts its dataset's *start* and its
/// initiate faults), `default` replaces the default scenario when present, and `host_unavailable`
/// replaces all windows when present. Within one book a later entry with the same key wins. Unknown keys are
/// rejected.
package struct ScenarioBook: Codable, Sendable, Equatable {
    /// Scenario for tokens with no entry of their own; nil keeps the configured default.
    package var defaultScenario: Scenario?
    /// Per-token (and per client ID and token) scenarios.
    package var scenarios: [TokenScenario]
    /// Host-wide 503 windows; nil leaves the current windows alone when merged.
    package var hostUnavailable: [HostUnavailableWindow]?
    /// Segments the initiate endpoint can export (merged by name and client ID).
    package var segments: [SegmentScenario]

    /// Creates a book; all parts optional.
    package init(
        defaultScenario: Scenario? = nil, scenarios: [TokenScenario] = [],
        hostUnavailable: [HostUnavailableWindow]? = nil,
        segments: [SegmentScenario] = []
    ) {
        self.defaultScenario = defaultScenario
        self.scenarios = scenarios
        self.hostUnavailable = hostUnavailable
        self.segments = segments
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.rejectUnknownKeys(
            allowed: ["default", "scenarios", "host_unavailable", "segments"], in: "a scenario book")
        self.defaultScenario = try c.decodeIfPresent(Scenario.self, forKey: JSONKey("default"))
        self.scenarios = try c.decodeIfPresent([TokenScenario].self, forKey: JSONKey("scenarios")) ?? []
        self.hostUnavailable = try c.decodeIfPresent([HostUnavailableWindow].self, forKey: JSONKey("host_unavailable"))
        self.segments = try c.decodeIfPresent([SegmentScenario].self, forKey: JSONKey("segments")) ?? []
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encodeIfPresent(defaultScenario, forKey: JSONKey("default"))
        try c.encode(scenarios, forKey: JSONKey("scenarios"))
        try c.encodeIfPresent(hostUnavailable, forKey: JSONKey("host_unavailable"))
        if !segments.isEmpty { try c.encode(segments, forKey: JSONKey("segments")) }
    }
}

/// A ``Scenario`` bound to an access token, optionally only under one client ID.
/// JSON: `{"client_id": "ACME_Co", "access_token": 43, "steps": [ … ], "export": { … }}` (`client_id` and
/// `export` optional; `export` is documented on ``Scenario``).
package struct TokenScenario: Codable, Sendable, Equatable {
    /// The MyPreferences client ID (path parameter) it applies to; nil: any client ID.
    package var clientID: String?
    /// The access token it applies to.
    package var accessToken: Int64
    /// The scripted answers.
    package var scenario: Scenario

    /// Binds `scenario` to `accessToken` (under `clientID` only, when given).
    package init(accessToken: Int64, clientID: String? = nil, scenario: Scenario) {
        self.accessToken = accessToken
        self.clientID = clientID
        self.scenario = scenario
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.rejectUnknownKeys(allowed: ["client_id", "access_token", "steps", "export"], in: "a scenarios entry")
        self.clientID = try c.decodeIfPresent(String.self, forKey: JSONKey("client_id"))
        self.accessToken = try c.decode(Int64.self, forKey: JSONKey("access_token"))
        self.scenario = Scenario(
            try Scenario.steps(from: c.superDecoder(forKey: JSONKey("steps"))),
            export: try c.decodeIfPresent(ExportOptions.self, forKey: JSONKey("export")))
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encodeIfPresent(clientID, forKey: JSONKey("client_id"))
        try c.encode(accessToken, forKey: JSONKey("access_token"))
        try c.encode(scenario.steps, forKey: JSONKey("steps"))
        try c.encodeIfPresent(scenario.export, forKey: JSONKey("export"))
    }
}

/// A host-wide 503 window: every API request between `from` and `to` (offsets from server start, or from
/// when the window was set at runtime) gets 503 Service Unavailable.
/// JSON: `{"from_s": 5, "to_s": 10, "retry_after_s": 3, "form": "seconds"}` (`retry_after_s`, `form` optional).
package struct HostUnavailableWindow: Codable, Sendable, Equatable {
    /// Start of the window (inclusive), as an offset.
    package var from: Duration
    /// End of the window (exclusive), as an offset.
    package var to: Duration
    /// `Retry-After` sent with each 503; nil sends none.
    package var retryAfter: RetryAfter?

    /// Creates a window from `from` (inclusive) to `to` (exclusive).
    package init(from: Duration, to: Duration, retryAfter: RetryAfter? = nil) {
        self.from = from
        self.to = to
        self.retryAfter = retryAfter
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.rejectUnknownKeys(allowed: ["from_s", "to_s", "retry_after_s", "form"], in: "a host_unavailable window")
        let fromSeconds = try c.decode(Double.self, forKey: JSONKey("from_s"))
        let toSeconds = try c.decode(Double.self, forKey: JSONKey("to_s"))
        guard fromSeconds >= 0, toSeconds >= fromSeconds, toSeconds.isFinite else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("to_s"), in: c,
                debugDescription: "need 0 ≤ from_s ≤ to_s, got \(fromSeconds)…\(toSeconds)")
        }
        self.from = .milliseconds(Int64((fromSeconds * 1000).rounded()))
        self.to = .milliseconds(Int64((toSeconds * 1000).rounded()))
        self.retryAfter = try RetryAfter.decodeIfPresent(from: c)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode(from.secondsDouble, forKey: JSONKey("from_s"))
        try c.encode(to.secondsDouble, forKey: JSONKey("to_s"))
        try retryAfter?.encode(into: &c)
    }
}

/// A scripted sequence of answers the simulator gives to the status polls of one access token.
///
/// Each poll of the token consumes one use of the current step; a step is used `repeat` times
/// (default 1) and then the next step takes over. The **last step repeats forever**. State advances
/// only when that token is polled (one step index per client ID and access token), and only when the
/// poll gets past the host-wide 503 windows and authentication.
///
/// ## JSON form
/// A scenario is a JSON array of steps. Every step has exactly one answer key — `status`, `http`,
/// `unavailable`, `drop` or `raw` — plus the optional modifiers `repeat` (integer ≥ 1, default 1)
/// and `delay_ms` (integer ≥ 0: wait that long before answering; combinable with any answer).
/// Unknown keys are rejected, so a typo is an error rather than a silent default.
///
/// | step | answer |
/// |---|---|
/// | `{"status": "Processing", "row_count": 0, "byte_count": 0, "expires": "…"}` | 200 with an `AsyncApiDataExportStatusResult` (JSON or XML by `Accept`); counts default to 0; `expires` (verbatim string) only appears in API/3 answers, which otherwise carry the request time + 24 h |
/// | `{"http": 404}` or `{"http": {"code": 404, "body": "…"}}` | that status code; the body defaults to `{"Message":"…"}` in the vendor's Web API style |
/// | `{"unavailable": {"retry_after_s": 3, "form": "seconds"}}` | 503; `Retry-After: 3`, or with `"form": "http-date"` an IMF-fixdate computed at request time as now + 3 s; `{"unavailable": {}}` sends no `Retry-After`; optional `"body"` |
/// | `{"drop": true}` | the connection is closed without any response bytes (a client sees "remote connection closed") |
/// | `{"raw": {"code": 200, "content_type": "application/json", "body": "{\"Acc"}}` | exactly that status, content type (default `text/plain; charset=utf-8`) and body |
///
/// Example — 404 twice (eventual consistency), 503 with an HTTP-date, a slow `Processing`, then `Complete` forever:
/// ```json
/// [ {"http": 404, "repeat": 2},
///   {"unavailable": {"retry_after_s": 3, "form": "http-date"}},
///   {"status": "Processing", "delay_ms": 250, "repeat": 3},
///   {"status": "Complete", "row_count": 1000, "byte_count": 123456} ]
/// ```
/// Scenarios are assigned to tokens through a ``ScenarioBook`` (the scenario file / `POST /_sim/scenarios`
/// body) or ``MyPreferencesSimulator/setScenario(_:accessToken:clientID:)``.
public struct Scenario: Codable, Sendable, Equatable {
    /// The steps in poll order; never empty when decoded from JSON (an empty scenario behaves like the default one).
    public var steps: [ScenarioStep]

    /// Creates a scenario from steps in poll order.
    public init(_ steps: [ScenarioStep]) {
        self.steps = steps
    }

    /// The default for tokens without a scenario: `Processing` for 3 polls, then `Complete` with
    /// RowCount 1000 and ByteCount 123456 forever.
    public static let standard = Scenario([
        .status("Processing", repeat: 3),
        .status("Complete", rowCount: 1000, byteCount: 123_456),
    ])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let steps = try container.decode([ScenarioStep].self)
        guard !steps.isEmpty else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a scenario needs at least one step")
        }
        self.steps = steps
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.steps)
    }
}

/// How a `Retry-After` header is written: `Retry-After: 3` (`seconds`) or an IMF-fixdate
/// such as `Retry-After: Tue, 05 Mar 2024 07:08:12 GMT` (`http-date`), computed at request time.
public struct RetryAfter: Sendable, Equatable {
    /// The two forms RFC 9110 allows for `Retry-After`.
    public enum Form: String, Codable, Sendable {
        /// delta-seconds, e.g. `Retry-After: 3`
        case seconds
        /// IMF-fixdate of the request time plus the delay, e.g. `Retry-After: Tue, 05 Mar 2024 07:08:12 GMT`
        case httpDate = "http-date"
    }

    /// The advised delay in whole seconds (≥ 0).
    public var seconds: Int
    /// How the header is written; default ``Form/seconds``.
    public var form: Form

    /// Creates a `Retry-After` advice of `seconds` written in `form`.
    public init(seconds: Int, form: Form = .seconds) {
        self.seconds = seconds
        self.form = form
    }
}

/// One scripted answer of a ``Scenario`` together with its modifiers; see ``Scenario`` for the JSON form.
public struct ScenarioStep: Sendable, Equatable {
    /// What the simulator answers.
    public enum Answer: Sendable, Equatable {
        /// 200 with a status document: `Status` verbatim, `RowCount`, `ByteCount` (64-bit), and for API/3
        /// answers `Expires` (verbatim when given).
        case status(String, rowCount: Int64, byteCount: Int64, expires: String?)
        /// The given HTTP status code with `body` (JSON `{"Message": …}` when nil).
        case http(code: Int, body: String?)
        /// 503 Service Unavailable, with `Retry-After` when `retryAfter` is non-nil.
        case unavailable(retryAfter: RetryAfter?, body: String?)
        /// Close the connection without writing a response.
        case drop
        /// Exactly this status code, content type and body.
        case raw(code: Int, contentType: String, body: String)
    }

    /// What the simulator answers.
    public var answer: Answer
    /// How many polls this step answers before the next step takes over (≥ 1; the last step repeats forever).
    public var repeatCount: Int
    /// Wait before answering (nil or zero: answer at once).
    public var delay: Duration?

    /// Creates a step; `repeatCount` below 1 is treated as 1.
    public init(_ answer: Answer, repeat repeatCount: Int = 1, delay: Duration? = nil) {
        self.answer = answer
        self.repeatCount = max(1, repeatCount)
        self.delay = delay
    }

    /// A 200 status document step.
    public static func status(
        _ status: String, rowCount: Int64 = 0, byteCount: Int64 = 0, expires: String? = nil,
        repeat repeatCount: Int = 1, delay: Duration? = nil
    ) -> ScenarioStep {
        ScenarioStep(.status(status, rowCount: rowCount, byteCount: byteCount, expires: expires), repeat: repeatCount, delay: delay)
    }

    /// An HTTP error (or any other code) step.
    public static func http(_ code: Int, body: String? = nil, repeat repeatCount: Int = 1, delay: Duration? = nil) -> ScenarioStep {
        ScenarioStep(.http(code: code, body: body), repeat: repeatCount, delay: delay)
    }

    /// A 503 step, with `Retry-After` when `retryAfter` is given.
    public static func unavailable(
        retryAfter: RetryAfter? = nil, body: String? = nil, repeat repeatCount: Int = 1, delay: Duration? = nil
    ) -> ScenarioStep {
        ScenarioStep(.unavailable(retryAfter: retryAfter, body: body), repeat: repeatCount, delay: delay)
    }

    /// A step that closes the connection without answering.
    public static func drop(repeat repeatCount: Int = 1, delay: Duration? = nil) -> ScenarioStep {
        ScenarioStep(.drop, repeat: repeatCount, delay: delay)
    }

    /// A step answering exactly `code`, `contentType` and `body`.
    public static func raw(
        code: Int = 200, contentType: String = "text/plain; charset=utf-8", body: String,
        repeat repeatCount: Int = 1, delay: Duration? = nil
    ) -> ScenarioStep {
        ScenarioStep(.raw(code: code, contentType: contentType, body: body), repeat: repeatCount, delay: delay)
    }
}

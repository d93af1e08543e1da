/// A scripted sequence of answers the simulator gives to the status polls of one access token, and how
/// its export is then downloaded.
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
/// ## The export download
/// The `Complete` status a token serves makes its export downloadable (the **retrieve rule**: the first
/// `Complete` answer served to that client ID and token fixes the record count = its `row_count`, and the
/// export stays downloadable from then on, whatever later steps say). Routes, after the 503 windows and
/// authentication, like status polls:
/// - `GET Async/{clientId}/Export/Segment/{accessToken}?limit=&offset=&keepAlive=` (API/3:
///   `GET {clientId}/export/Segment/{accessToken}?…`) → 200
///   `{"Count":n,"HasMore":b,"Limit":l,"Offset":o,"TotalResults":t,"UserProfilePreferences":[…]}` (compact, that
///   key order): records `offset … min(offset+limit−1, t)`; `offset` 1-based (default 1), `limit` 1–100000
///   (default 1000), else 400 `{"Message":…}`; past the end `Count` 0, `HasMore` false. Records are generated
///   deterministically (see `ExportRecords`). 404 for a token never handed out, scripted or polled; 400
///   `The export is not complete.` before `Complete`; 404 `The export has already been retrieved.` /
///   `The export has expired.` afterwards.
/// - `POST Async/{clientId}/Export/Segment/Commit/{accessToken}?keepFiles=` (API/3:
///   `POST {clientId}/export/Segment/Commit/{accessToken}?…`) → 200 `{"Message":"Committed."}`, marks the export
///   retrieved and remembers `keepFiles`; idempotent once retrieved; 404 unknown or expired, 400 before `Complete`.
///
/// Without `keepAlive=true` the export is retrieved as soon as the page holding its last record is served
/// (any page of an empty export); with it, only by a commit. Once retrieved (or expired), status polls answer
/// `Retrieved` (or `Expired`) with the `Complete` answer's `RowCount` and `ByteCount`, and the steps stop advancing.
///
/// ## The `export` object
/// A scenario with download options takes the object form `{"steps": [ … ], "export": { … }}` (in a
/// ``ScenarioBook`` entry: an `"export"` key beside `"steps"`). All keys optional; unknown keys are rejected.
///
/// | key | meaning |
/// |---|---|
/// | `seed` | integer ≥ 0 mixed into every record (default 0) |
/// | `lowercase_keys` | `true`: page keys `count`, `hasMore`, `limit`, `offset`, `totalResults`, `userProfilePreferences` (default false) |
/// | `records_key` | `"UserProfilePreferences"` (default, both route forms) or `"Preferences"` (API/3 name) |
/// | `expire_after_pages` | n ≥ 1: after n pages served, the export becomes `Expired` (retrieves 404) unless that page retrieved it |
/// | `pages` | page faults, below |
///
/// A page fault applies to the page request whose `offset` query value equals its `offset`, `times` times
/// (default 1, counted per entry, earlier entries first); later requests get the page normally. Faults that
/// replace the page do not count as a page served; those that alter it do.
///
/// | fault | answer |
/// |---|---|
/// | `{"offset": 1001, "fault": "unavailable", "retry_after_s": 1, "form": "seconds"}` | 503, `Retry-After` when `retry_after_s` is given |
/// | `{"offset": 1, "fault": "server_error"}` | 500 `{"Message":…}` |
/// | `{"offset": 1, "fault": "http", "code": 401, "body": "…"}` | that code; body default `{"Message":…}` |
/// | `{"offset": 1, "fault": "drop"}` | the connection closes with no response bytes |
/// | `{"offset": 1, "fault": "reset", "after_bytes": 100}` | head with the full `Content-Length`, the first `after_bytes` body bytes (default half), then the connection closes (a truncated body) |
/// | `{"offset": 1, "fault": "slow", "delay_ms": 500, "chunks": 20}` | the body dripped in `chunks` pieces (default 20) over `delay_ms` |
/// | `{"offset": 1, "fault": "short"}` | the record array holds one record fewer than `Count` (the page's last record missing) |
/// | `{"offset": 1, "fault": "wrong_total"}` | `TotalResults` one more than the real total |
///
/// Example — an export of 2,500 records whose second page (with `limit=1000`) fails twice, downloaded with lower-case keys:
/// ```json
/// {"steps": [ {"status": "Processing"}, {"status": "Complete", "row_count": 2500} ],
///  "export": {"lowercase_keys": true, "pages": [ {"offset": 1001, "fault": "unavailable", "retry_after_s": 1, "times": 2} ]}}
/// ```
/// The canonical file of an export (each record's bytes as served plus `\n`) and its SHA-256:
/// `GET /_sim/exports/{clientId}/{accessToken}` or ``MyPreferencesSimulator/export(accessToken:clientID:)``.
///
/// Scenarios are assigned to tokens through a ``ScenarioBook`` (the scenario file / `POST /_sim/scenarios`
/// body) or ``MyPreferencesSimulator/setScenario(_:accessToken:clientID:)``.
package struct Scenario: Codable, Sendable, Equatable {
    /// The steps in poll order; never empty when decoded from JSON (an empty scenario behaves like the default one).
    package var steps: [ScenarioStep]
    /// How the export is downloaded once `Complete`; nil: ``ExportOptions/init(seed:lowercaseKeys:recordsKey:pages:expireAfterPages:)`` defaults.
    package var export: ExportOptions?

    /// Creates a scenario from steps in poll order, with download options when given.
    package init(_ steps: [ScenarioStep], export: ExportOptions? = nil) {
        self.steps = steps
        self.export = export
    }

    /// `Complete` with `records` rows (and `byteCount`, default 0) from the first poll on: an export ready to
    /// download once polled once.
    package static func complete(records: Int64, byteCount: Int64 = 0, export: ExportOptions? = nil) -> Scenario {
        Scenario([.status("Complete", rowCount: records, byteCount: byteCount)], export: export)
    }

    /// The default for tokens without a scenario: `Processing` for 3 polls, then `Complete` with
    /// RowCount 1000 and ByteCount 123456 forever.
    package static let standard = Scenario([
        .status("Processing", repeat: 3),
        .status("Complete", rowCount: 1000, byteCount: 123_456),
    ])

    /// Decodes the array form, or the object form `{"steps": [ … ], "export": { … }}`.
    package init(from decoder: any Decoder) throws {
        if let object = try? decoder.container(keyedBy: JSONKey.self) {
            try object.rejectUnknownKeys(allowed: ["steps", "export"], in: "a scenario object")
            self.init(
                try Self.steps(from: object.superDecoder(forKey: JSONKey("steps"))),
                export: try object.decodeIfPresent(ExportOptions.self, forKey: JSONKey("export")))
        } else {
            self.init(try Self.steps(from: decoder))
        }
    }

    /// A non-empty JSON array of steps.
    static func steps(from decoder: any Decoder) throws -> [ScenarioStep] {
        let container = try decoder.singleValueContainer()
        let steps = try container.decode([ScenarioStep].self)
        guard !steps.isEmpty else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "a scenario needs at least one step")
        }
        return steps
    }

    /// Encodes the array form, or the object form when ``export`` is set.
    package func encode(to encoder: any Encoder) throws {
        if let export {
            var object = encoder.container(keyedBy: JSONKey.self)
            try object.encode(steps, forKey: JSONKey("steps"))
            try object.encode(export, forKey: JSONKey("export"))
        } else {
            var container = encoder.singleValueContainer()
            try container.encode(self.steps)
        }
    }
}

/// How a `Retry-After` header is written: `Retry-After: 3` (`seconds`) or an IMF-fixdate
/// such as `Retry-After: Tue, 05 Mar 2024 07:08:12 GMT` (`http-date`), computed at request time.
package struct RetryAfter: Sendable, Equatable {
    /// The two forms RFC 9110 allows for `Retry-After`.
    package enum Form: String, Codable, Sendable {
        /// delta-seconds, e.g. `Retry-After: 3`
        case seconds
        /// IMF-fixdate of the request time plus the delay, e.g. `Retry-After: Tue, 05 Mar 2024 07:08:12 GMT`
        case httpDate = "http-date"
    }

    /// The advised delay in whole seconds (≥ 0).
    package var seconds: Int
    /// How the header is written; default ``Form/seconds``.
    package var form: Form

    /// Creates a `Retry-After` advice of `seconds` written in `form`.
    package init(seconds: Int, form: Form = .seconds) {
        self.seconds = seconds
        self.form = form
    }
}

/// One scripted answer of a ``Scenario`` together with its modifiers; see ``Scenario`` for the JSON form.
package struct ScenarioStep: Sendable, Equatable {
    /// What the simulator answers.
    package enum Answer: Sendable, Equatable {
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
    package var answer: Answer
    /// How many polls this step answers before the next step takes over (≥ 1; the last step repeats forever).
    package var repeatCount: Int
    /// Wait before answering (nil or zero: answer at once).
    package var delay: Duration?

    /// Creates a step; `repeatCount` below 1 is treated as 1.
    package init(_ answer: Answer, repeat repeatCount: Int = 1, delay: Duration? = nil) {
        self.answer = answer
        self.repeatCount = max(1, repeatCount)
        self.delay = delay
    }

    /// A 200 status document step.
    package static func status(
        _ status: String, rowCount: Int64 = 0, byteCount: Int64 = 0, expires: String? = nil,
        repeat repeatCount: Int = 1, delay: Duration? = nil
    ) -> ScenarioStep {
        ScenarioStep(
            .status(status, rowCount: rowCount, byteCount: byteCount, expires: expires), repeat: repeatCount,
            delay: delay)
    }

    /// An HTTP error (or any other code) step.
    package static func http(_ code: Int, body: String? = nil, repeat repeatCount: Int = 1, delay: Duration? = nil)
        -> ScenarioStep
    {
        ScenarioStep(.http(code: code, body: body), repeat: repeatCount, delay: delay)
    }

    /// A 503 step, with `Retry-After` when `retryAfter` is given.
    package static func unavailable(
        retryAfter: RetryAfter? = nil, body: String? = nil, repeat repeatCount: Int = 1, delay: Duration? = nil
    ) -> ScenarioStep {
        ScenarioStep(.unavailable(retryAfter: retryAfter, body: body), repeat: repeatCount, delay: delay)
    }

    /// A step that closes the connection without answering.
    package static func drop(repeat repeatCount: Int = 1, delay: Duration? = nil) -> ScenarioStep {
        ScenarioStep(.drop, repeat: repeatCount, delay: delay)
    }

    /// A step answering exactly `code`, `contentType` and `body`.
    package static func raw(
        code: Int = 200, contentType: String = "text/plain; charset=utf-8", body: String,
        repeat repeatCount: Int = 1, delay: Duration? = nil
    ) -> ScenarioStep {
        ScenarioStep(.raw(code: code, contentType: contentType, body: body), repeat: repeatCount, delay: delay)
    }
}

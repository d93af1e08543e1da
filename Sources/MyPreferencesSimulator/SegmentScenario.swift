/// A segment that `POST Async/{clientId}/Export/Segment/{segmentName}` can export: its name, the client ID
/// it belongs to, the dataset behind it (a base population with change times, then a steady stream of new
/// changes), how long an export of it takes, and faults for its initiate requests. One entry of
/// ``ScenarioBook/segments``.
///
/// ## JSON form
/// ```json
/// {"name": "Newsletter", "client_id": "ACME_Co", "records": 12000, "processing_s": 3,
///  "changes_per_s": 2, "history_s": 86400, "seed": 7,
///  "initiate_faults": [ {"drop": true}, {"delay_s": 1.5}, {"unavailable": {"retry_after_s": 2}},
///                       {"http": 500, "creates": true} ],
///  "export": {"pages": [ {"offset": 1001, "fault": "server_error"} ]}}
/// ```
///
/// | key | meaning |
/// |---|---|
/// | `name` | the segment name, matched **exactly** (case-sensitive) against the path's `{segmentName}` (required, non-empty) |
/// | `client_id` | the MyPreferences client ID it belongs to; absent: every client ID has this segment |
/// | `records` | the base population, integer from 0 to 10^12 (required) |
/// | `processing_s` | seconds (fractions allowed, ≥ 0) from the initiate until the export is `Complete`; default 0 |
/// | `duration` | instead of `processing_s`: `{"median_s": 900, "sigma": 0.3}`, a log-normal draw (median_s > 0, sigma ≥ 0) per export, seeded by `seed` and the access token |
/// | `changes_per_s` | new changes per second after the entry was loaded, ≥ 0 (fractions allowed); default 0 |
/// | `history_s` | seconds over which the base population's change times are spread before the entry was loaded, ≥ 0; default 86400 |
/// | `seed` | integer ≥ 0 mixed into every record and the duration draw; default 0 |
/// | `initiate_faults` | faults for this segment's initiate requests, consumed one per initiate, in order (below) |
/// | `export` | download options as in a scenario's `export` object (``ExportOptions``: `lowercase_keys`, `records_key`, `expire_after_pages`, `pages`) — except `seed`, which is the segment's own |
/// | `callback_delay_s` | seconds (fractions allowed, 0…3600) after an export becomes `Complete` until the simulator POSTs to the initiate's `CallbackURL`; default 0.5 |
/// | `callback_failure_rate` | 0…1: the share of exports whose callback is not sent at all (a lost callback), decided per export from `seed` and the access token; default 0 |
///
/// Unknown keys, `processing_s` together with `duration`, and out-of-range values are rejected.
///
/// ## The dataset and change times
/// Let *start* be when the entry was loaded: server start for the configuration / `--scenarios` file, the
/// moment of `POST /_sim/scenarios` (or ``MyPreferencesSimulator/apply(_:)``) for an entry set at runtime.
/// Base record *i* (1…`records`) changed at `start − history_s + i·history_s/records`; the *k*-th new change
/// (k ≥ 1) arrives at `start + k/changes_per_s` and is a record of its own with a profile of its own. Times
/// are whole milliseconds (rounded down), non-decreasing with the record's position in the dataset.
/// Each record's `ModifiedDate` is its change time (`YYYY-MM-DDTHH:MM:SS.sssZ`, UTC); a deleted profile
/// carries it as both `DeletedDate` and `ModifiedDate`. Records are generated from (client ID, segment
/// name, `seed`, position), so the same record reads the same in every export of the segment.
///
/// ## Callbacks
/// An export of the segment whose initiate body carried `CallbackURL` gets one `POST` to that URL
/// `callback_delay_s` after it becomes `Complete` (unless `callback_failure_rate` drops it), with
/// `Content-Type: application/json` and the status document as body:
/// `{"AccessToken":N,"Status":"Complete","RowCount":R,"ByteCount":B}` — the vendor documents only that
/// "the status" is posted. It is sent once, never retried; its answer is recorded
/// (``MyPreferencesSimulator/callbacks()``, `GET /_sim/callbacks`). Callbacks not yet sent are dropped
/// when the simulator stops or is reset.
///
/// ## Initiate faults
/// | fault | effect |
/// |---|---|
/// | `{"drop": true}` | the export is created, then the connection is closed without an answer |
/// | `{"delay_s": 1.5}` | the export is created at once; the answer is sent after that many seconds |
/// | `{"unavailable": {"retry_after_s": 2}}` | 503 (with `Retry-After` when `retry_after_s` is given; optional `form` as for the `unavailable` step); no export is created |
/// | `{"http": 500, "creates": true}` | that status code with `{"Message": …}`; the export is created only when `creates` is true (default false) |
package struct SegmentScenario: Sendable, Equatable {
    /// How long an export of the segment stays `Processing` after its initiate.
    package enum Processing: Sendable, Equatable {
        /// Always this long (`processing_s`).
        case fixed(Duration)
        /// `median · exp(sigma · Z)` with Z standard normal, drawn from a generator seeded by the segment's
        /// seed and the access token: the same export always gets the same duration (`duration`).
        case logNormal(median: Duration, sigma: Double)
    }

    /// The segment name; compared exactly (case-sensitive) with the initiate path's `{segmentName}`.
    package var name: String
    /// The client ID the segment belongs to; nil: every client ID has it.
    package var clientID: String?
    /// The base population: records changed before the entry was loaded (0…10^12).
    package var records: Int64
    /// How long an export takes. Default `.fixed(.zero)`: `Complete` at the first poll.
    package var processing: Processing
    /// New changes per second after the entry was loaded (≥ 0). Default 0.
    package var changesPerSecond: Double
    /// How far back the base population's change times reach (≥ 0). Default one day.
    package var history: Duration
    /// Mixed into every record and the duration draw. Default 0.
    package var seed: UInt64
    /// Faults for initiate requests, consumed one per initiate of this entry, in order.
    package var initiateFaults: [InitiateFault]
    /// Download options for its exports (page faults, key style, expiry); the `seed` inside is ignored.
    package var export: ExportOptions?
    /// How long after an export becomes `Complete` its callback is sent (when the initiate asked for one). Default 0.5 s.
    package var callbackDelay: Duration
    /// The share (0…1) of exports whose callback is never sent, drawn per export from ``seed`` and the access token. Default 0.
    package var callbackFailureRate: Double

    /// Creates a segment entry; every parameter but `name` and `records` has the default documented on its property.
    package init(
        name: String, clientID: String? = nil, records: Int64, processing: Processing = .fixed(.zero),
        changesPerSecond: Double = 0, history: Duration = .seconds(86_400), seed: UInt64 = 0,
        initiateFaults: [InitiateFault] = [], export: ExportOptions? = nil,
        callbackDelay: Duration = .milliseconds(500), callbackFailureRate: Double = 0
    ) {
        self.callbackDelay = callbackDelay
        self.callbackFailureRate = callbackFailureRate
        self.name = name
        self.clientID = clientID
        self.records = records
        self.processing = processing
        self.changesPerSecond = changesPerSecond
        self.history = history
        self.seed = seed
        self.initiateFaults = initiateFaults
        self.export = export
    }
}

/// What goes wrong with one initiate request of a segment; see ``SegmentScenario`` for the JSON form.
package enum InitiateFault: Sendable, Equatable {
    /// Create the export, then close the connection without answering.
    case drop
    /// Create the export at once, answer (200 with the access token) after this long.
    case delay(Duration)
    /// 503, with `Retry-After` when given; nothing is created.
    case unavailable(retryAfter: RetryAfter?)
    /// This status code with `{"Message": …}`; the export is created only when `creates` is true.
    case http(code: Int, creates: Bool)

    /// Whether the initiate creates an export (allocates an access token) despite the fault.
    var createsExport: Bool {
        switch self {
        case .drop, .delay: true
        case .unavailable: false
        case .http(_, let creates): creates
        }
    }
}

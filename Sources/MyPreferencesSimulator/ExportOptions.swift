/// How the export behind a token is downloaded: the records' seed, the page answer's key style, per-page
/// faults and expiry mid-download. Part of a ``Scenario`` (its `export` object); see ``Scenario`` for the
/// JSON form and the download rules.
package struct ExportOptions: Sendable, Equatable {
    /// The name of the page answer's record array.
    package enum RecordsKey: String, Codable, Sendable {
        /// `UserProfilePreferences` (the Profiles generation; the default on both route forms).
        case userProfilePreferences = "UserProfilePreferences"
        /// `Preferences` (the API/3 name).
        case preferences = "Preferences"
    }

    /// Mixed into every record's generation: two exports differ in content when their seeds differ. Default 0.
    package var seed: UInt64
    /// Whether the page answer's keys start lower-case (`count`, `hasMore`, `limit`, `offset`, `totalResults`,
    /// `userProfilePreferences`/`preferences`), as in the vendor's sample. Record keys never change. Default false.
    package var lowercaseKeys: Bool
    /// The record array's name. Default ``RecordsKey/userProfilePreferences``.
    package var recordsKey: RecordsKey
    /// Faults applied to page requests, matched by the request's `offset`; earlier entries first.
    package var pages: [PageFault]
    /// After this many pages served (200 page answers, faulty bodies included), the export's status becomes
    /// `Expired` and retrieves answer 404; nil (default): never.
    package var expireAfterPages: Int?

    /// Creates options; every parameter has the default documented on its property.
    package init(
        seed: UInt64 = 0, lowercaseKeys: Bool = false, recordsKey: RecordsKey = .userProfilePreferences,
        pages: [PageFault] = [], expireAfterPages: Int? = nil
    ) {
        self.seed = seed
        self.lowercaseKeys = lowercaseKeys
        self.recordsKey = recordsKey
        self.pages = pages
        self.expireAfterPages = expireAfterPages
    }
}

/// A fault applied to the page request whose `offset` query parameter equals ``offset``, `times` times;
/// afterwards that page is served normally. JSON: `{"offset": 1001, "fault": "unavailable", "retry_after_s": 1, "times": 2}`.
package struct PageFault: Sendable, Equatable {
    /// What goes wrong with the page answer.
    package enum Kind: Sendable, Equatable {
        /// 503, with `Retry-After` when given; the page is not served (`"fault": "unavailable"`, optional
        /// `retry_after_s`, `form`).
        case unavailable(retryAfter: RetryAfter?)
        /// 500 `{"Message": …}`; the page is not served (`"fault": "server_error"`).
        case serverError
        /// That status code, with `body` or a `{"Message": …}` default; the page is not served
        /// (`"fault": "http", "code": 401`, optional `body`).
        case http(code: Int, body: String?)
        /// The connection closes without any response bytes; the page is not served (`"fault": "drop"`).
        case drop
        /// The head (with the full `Content-Length`) and the first `afterBytes` body bytes (default: half
        /// the body) are sent, then the connection closes: a client sees a truncated body. The page counts
        /// as served (`"fault": "reset"`, optional `after_bytes` ≥ 0).
        case reset(afterBytes: Int?)
        /// The body is sent in `chunks` pieces (default 20) spread over `delay` (`"fault": "slow"`,
        /// `delay_ms` ≥ 0, optional `chunks` ≥ 1).
        case slow(delay: Duration, chunks: Int)
        /// The record array holds one record fewer than `Count` says (its last record is missing)
        /// (`"fault": "short"`).
        case short
        /// `TotalResults` is one more than the export's record count (`"fault": "wrong_total"`).
        case wrongTotal
    }

    /// The `offset` query value (1-based) of the page request this fault applies to.
    package var offset: Int64
    /// What goes wrong.
    package var kind: Kind
    /// How many matching requests get the fault (≥ 1, default 1).
    package var times: Int

    /// Creates a fault for the page request at `offset`; `times` below 1 is treated as 1.
    package init(offset: Int64, _ kind: Kind, times: Int = 1) {
        self.offset = offset
        self.kind = kind
        self.times = max(1, times)
    }
}

extension PageFault.Kind {
    /// Whether the fault replaces the page answer (nothing is served) rather than altering it.
    var replacesPage: Bool {
        switch self {
        case .unavailable, .serverError, .http, .drop: true
        case .reset, .slow, .short, .wrongTotal: false
        }
    }
}

/// One page of a completed export, as the retrieve request answered it.
///
/// Source: MyPreferences retrieve answer (`../shared/mypreferences-api.md`, "The export workflow"):
/// `Count`, `HasMore`, `Limit`, `Offset`, `TotalResults` and the records, in `UserProfilePreferences`
/// (Profiles generation) or `Preferences` (API/3). Keys are matched case-insensitively (the vendor's
/// own sample lower-cases some). The counts are `nil` when the answer leaves them out or sends `null`.
package struct ExportPage: Sendable, Hashable {
    /// `Count`: records in this page, as the answer states it.
    package var count: Int64?
    /// `HasMore`: more records follow this page.
    package var hasMore: Bool?
    /// `Limit`: the page size the server applied.
    package var limit: Int64?
    /// `Offset`: the 1-based index of this page's first record.
    package var offset: Int64?
    /// `TotalResults`: records in the whole export.
    package var totalResults: Int64?
    /// Records found in the page's record array.
    package var records: Int
    /// The record array's key as the answer spelled it (`UserProfilePreferences`, `Preferences`, …).
    package var recordKey: String
    /// The records as NDJSON: each record's bytes exactly as the server sent them, followed by one
    /// `\n`. Only line breaks between a record's tokens are dropped (inside a JSON string they cannot
    /// occur), so 64-bit numbers, escapes, Unicode and nesting are kept byte for byte.
    package var ndjson: [UInt8]

    package init(
        count: Int64?, hasMore: Bool?, limit: Int64?, offset: Int64?, totalResults: Int64?, records: Int,
        recordKey: String, ndjson: [UInt8]
    ) {
        self.count = count
        self.hasMore = hasMore
        self.limit = limit
        self.offset = offset
        self.totalResults = totalResults
        self.records = records
        self.recordKey = recordKey
        self.ndjson = ndjson
    }
}

/// What a commit answered: a 2xx (its body is not documented and not read beyond an excerpt).
package struct CommitReceipt: Sendable, Hashable {
    /// At most 256 characters of the answer's body, for the log.
    package var excerpt: String

    package init(excerpt: String) {
        self.excerpt = excerpt
    }
}

/// What one retrieve request came to.
package typealias PageResult = RequestResult<ExportPage>
/// What one commit request came to.
package typealias CommitResult = RequestResult<CommitReceipt>

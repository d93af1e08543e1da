import MprefCore

/// The body of a status answer: resource `AsyncApiDataExportStatusResult`.
///
/// Source: MyPreferences Profiles API help, "GET Async/{clientId}/Export/{accessToken}/Status"
/// and the API/3 async help "GET {clientId}/status/Token/{accessToken}" (which adds `Expires`).
package struct ExportStatus: Sendable, Hashable {
    /// The `AccessToken` field as the server echoed it; `nil` when absent.
    package var accessToken: AccessToken?
    /// The `Status` field, verbatim (e.g. `"Processing"`, `"Complete"`, or a value this version does not know).
    package var status: String
    /// `RowCount`: rows in the export (meaningful once complete); `nil` when the field was missing.
    package var rowCount: Int64?
    /// `ByteCount`: export size in bytes (meaningful once complete); `nil` when the field was missing.
    package var byteCount: Int64?
    /// `Expires`, verbatim, sent only by the API/3 path form; `nil` otherwise.
    package var expires: String?

    package init(
        accessToken: AccessToken? = nil, status: String, rowCount: Int64? = nil, byteCount: Int64? = nil,
        expires: String? = nil
    ) {
        self.accessToken = accessToken
        self.status = status
        self.rowCount = rowCount
        self.byteCount = byteCount
        self.expires = expires
    }

    /// `status` mapped case-insensitively (surrounding whitespace ignored) to a documented value;
    /// `nil` for a value this version does not know (treated as still processing, and warned about).
    package var knownStatus: KnownExportStatus? {
        KnownExportStatus(matching: status)
    }
}

/// The documented values of `Status`.
package enum KnownExportStatus: String, Sendable, CaseIterable {
    case processing = "Processing"
    case complete = "Complete"
    case error = "Error"
    case expired = "Expired"
    case failed = "Failed"
    case retrieved = "Retrieved"

    /// Matches `text` case-insensitively, ignoring surrounding whitespace; `nil` when unknown.
    package init?(matching text: String) {
        if let exact = Self(rawValue: text) {  // the usual spelling: no folding needed
            self = exact
            return
        }
        let folded = text.trimmingWhitespace().lowercased()
        guard let match = Self.allCases.first(where: { $0.rawValue.lowercased() == folded }) else { return nil }
        self = match
    }

    /// Whether polling stops at this status.
    package var isTerminal: Bool { self != .processing }
}

import Crypto
import MprefCore

/// An export as the simulator would let it be downloaded, and how far its download has gone: the answer of
/// `GET /_sim/exports/{clientId}/{accessToken}` and of ``MyPreferencesSimulator/export(accessToken:clientID:)``.
///
/// The **canonical file** of an export is every record's JSON bytes exactly as the pages serve them, in
/// order, each followed by `\n` (NDJSON); ``bytes`` and ``sha256`` describe that file.
package struct SimulatedExport: Sendable, Equatable {
    /// Records in the export (`TotalResults`).
    package var records: Int64
    /// Size of the canonical file in bytes.
    package var bytes: Int64
    /// SHA-256 of the canonical file, 64 lower-case hex digits.
    package var sha256: String
    /// Whether the export is `Retrieved` (last page served without `keepAlive=true`, or committed).
    package var isRetrieved: Bool
    /// Whether a commit was accepted.
    package var isCommitted: Bool
    /// The `keepFiles` query value of the last accepted commit; nil when not committed or sent without it.
    package var keepFiles: Bool?
    /// 200 page answers served so far (faulty bodies included).
    package var pagesServed: Int
    /// Records in those answers (a record served twice counts twice).
    package var recordsServed: Int64
    /// `pending` (no `Complete` status served yet: not downloadable), `complete`, `retrieved` or `expired`.
    package var phase: String

    /// `{"records":R,"bytes":B,"sha256":"…","retrieved":b,"committed":b,"keep_files":b|null,"pages_served":n,"records_served":n,"phase":"…"}`.
    var json: String {
        "{\"records\":\(records),\"bytes\":\(bytes),\"sha256\":\"\(sha256)\",\"retrieved\":\(isRetrieved),"
            + "\"committed\":\(isCommitted),\"keep_files\":\(keepFiles.map(String.init) ?? "null"),"
            + "\"pages_served\":\(pagesServed),\"records_served\":\(recordsServed),\"phase\":\"\(phase)\"}"
    }

    /// Generates the canonical file of `snapshot` record by record into SHA-256 (never whole in memory),
    /// yielding between batches so a large export does not hog a thread.
    init(_ snapshot: ExportSnapshot) async {
        var hasher = SHA256()
        var bytes: Int64 = 0
        await snapshot.records.forEachCanonicalBatch { batch in
            hasher.update(data: batch)
            bytes = bytes.addingSaturating(Int64(batch.count))
        }
        let total = snapshot.records.count
        self.records = total
        self.bytes = bytes
        self.sha256 = hasher.finalize().map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        self.isRetrieved = snapshot.phase == .retrieved
        self.isCommitted = snapshot.isCommitted
        self.keepFiles = snapshot.keepFiles
        self.pagesServed = snapshot.pagesServed
        self.recordsServed = snapshot.recordsServed
        self.phase = snapshot.phase.map { $0.rawValue.lowercased() } ?? "pending"
    }
}

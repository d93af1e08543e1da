import MprefCore
import Foundation
import MyPreferences

/// How one account's completed exports are downloaded (configuration `accounts.<ID>.download`).
package struct DownloadSettings: Sendable, Hashable {
    /// Download every completed export of the account (a token's `--download`/`--no-download` wins). Default off.
    package var enabled = false
    /// Where files go: `<directory>/<client ID>/<access token>.ndjson`. Default `/var/lib/mprefd/exports`.
    package var directory = "/var/lib/mprefd/exports"
    /// Records per page (the retrieve request's `limit`). Default 1000.
    package var pageSize = 1000
    /// The commit's `keepFiles`: keep the export's files on the server. Default false.
    package var keepFiles = false
    /// Days after which a delivered file whose hooks succeeded is deleted; 0 = keep forever. Default 0.
    package var retentionDays = 0
    /// Records written must equal `TotalResults` (and `RowCount`): `true` fails the download on a
    /// mismatch, `false` only logs a warning (`verify_counts: warn`). Default true.
    package var strictCounts = true
    /// Failed page or commit requests in a row (not counting 503/401/403 pauses) after which the
    /// download is `download_failed`. Default 10.
    package var maxAttempts = 10
    /// Free space asked for before the first page, beyond `ByteCount`: this fraction of it plus
    /// 64 MiB. Default 0.1.
    package var freeSpaceMargin = 0.1
    /// How long a download waiting for free space tries again after (`download.disk_retry_s`). Default 60 s.
    package var diskRetry: Duration = .seconds(60)

    package init() {}

    /// The final path of an export's file. Only validated values go in: the client ID (``ClientID/rule``:
    /// 1–128 of `[A-Za-z0-9_.-]`, not `.` or `..`, checked where it entered) and the positive integer
    /// access token, so no path can leave `directory`.
    package func file(clientID: ClientID, accessToken: AccessToken) -> String? {
        guard accessToken > 0 else { return nil }
        return (directory as NSString).appendingPathComponent("\(clientID)/\(accessToken).ndjson")
    }
}

/// Something that serves an export's pages and commit: the real `MyPreferencesClient`, or a stand-in.
package protocol DownloadSource: Sendable {
    /// One page, its body not yet decoded: records `offset` (1-based) … `offset + limit - 1`. Never throws.
    func pageBody(of accessToken: AccessToken, offset: Int64, limit: Int) async -> PageBodyResult
    /// Commits a retrieved export. Never throws.
    func commit(_ accessToken: AccessToken, keepFiles: Bool) async -> CommitResult
}

extension MyPreferencesClient: DownloadSource {}

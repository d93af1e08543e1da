import Foundation
import MprefCore
import MyPreferences
import Synchronization

/// The next page of a download, asked for once the current one's body was spooled.
struct PrefetchedPage: Sendable {
    /// 1-based offset of the page's first record.
    var offset: Int64
    /// When the request was sent (the history row's `requested_at`).
    var requestedAt: Date
    var answer: Task<PageBodyResult, Never>
}

/// The open `.partial` files of downloads in progress, kept between steps so that each page only
/// appends (re-hashing the file's prefix happens once per download and restart, not per page).
/// A step takes its token's file out and puts it back when done; the scheduler runs at most one
/// step per token at a time.
package final class OpenDownloads: Sendable {
    private let files = Mutex<[TokenID: DownloadFile]>([:])
    private let troubles = Mutex<[TokenID: String]>([:])
    private let prefetched = Mutex<[TokenID: PrefetchedPage]>([:])

    package init() {}

    /// The file of token `tokenID`, removed from the cache (nil when none is open).
    func take(_ tokenID: TokenID) -> DownloadFile? {
        files.withLock { $0.removeValue(forKey: tokenID) }
    }

    /// Notes that token `tokenID`'s download waits because of `text`; true the first time this process
    /// sees that text for it (so it is logged once per process, also after a restart).
    func noteTrouble(_ tokenID: TokenID, _ text: String) -> Bool {
        troubles.withLock { $0.updateValue(text, forKey: tokenID) != text }
    }

    /// Forgets token `tokenID`'s trouble once a page is stored again, so a later one is logged again.
    func clearTrouble(_ tokenID: TokenID) {
        _ = troubles.withLock { $0.removeValue(forKey: tokenID) }
    }

    /// Keeps the request for token `tokenID`'s next page for its next step (replacing, and cancelling, an older one).
    func putPrefetched(_ tokenID: TokenID, _ page: PrefetchedPage) {
        prefetched.withLock { $0.updateValue(page, forKey: tokenID) }?.answer.cancel()
    }

    /// The request for token `tokenID`'s next page, removed (nil when none was sent).
    func takePrefetched(_ tokenID: TokenID) -> PrefetchedPage? {
        prefetched.withLock { $0.removeValue(forKey: tokenID) }
    }

    /// Closes token `tokenID`'s file and cancels its early page request: its download stopped
    /// (`complete`, `download_failed`, `expired`) or an operator removed or paused it.
    func forget(_ tokenID: TokenID) {
        _ = files.withLock { $0.removeValue(forKey: tokenID) }
        prefetched.withLock { $0.removeValue(forKey: tokenID) }?.answer.cancel()
        _ = troubles.withLock { $0.removeValue(forKey: tokenID) }
    }

    /// Keeps `file` open for token `tokenID`'s next step.
    func put(_ tokenID: TokenID, _ file: DownloadFile) {
        files.withLock { $0[tokenID] = file }
    }
}

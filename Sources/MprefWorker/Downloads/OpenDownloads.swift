import Synchronization

/// The open `.partial` files of downloads in progress, kept between steps so that each page only
/// appends (re-hashing the file's prefix happens once per download and restart, not per page).
/// A step takes its token's file out and puts it back when done; the scheduler runs at most one
/// step per token at a time.
package final class OpenDownloads: Sendable {
    private let files = Mutex<[Int64: DownloadFile]>([:])
    private let troubles = Mutex<[Int64: String]>([:])

    package init() {}

    /// The file of token `tokenID`, removed from the cache (nil when none is open).
    func take(_ tokenID: Int64) -> DownloadFile? {
        files.withLock { $0.removeValue(forKey: tokenID) }
    }

    /// Notes that token `tokenID`'s download waits because of `text`; true the first time this process
    /// sees that text for it (so it is logged once per process, also after a restart).
    func noteTrouble(_ tokenID: Int64, _ text: String) -> Bool {
        troubles.withLock { $0.updateValue(text, forKey: tokenID) != text }
    }

    /// Forgets token `tokenID`'s trouble once a page is stored again, so a later one is logged again.
    func clearTrouble(_ tokenID: Int64) {
        _ = troubles.withLock { $0.removeValue(forKey: tokenID) }
    }

    /// Keeps `file` open for token `tokenID`'s next step.
    func put(_ tokenID: Int64, _ file: DownloadFile) {
        files.withLock { $0[tokenID] = file }
    }
}

import Dispatch

/// Runs the download's blocking file system calls (`open`, `pwrite`, `fsync`, `rename`, re-hashing a
/// file after a restart) on one dedicated serial queue instead of a Swift concurrency thread: an
/// `fsync` can take tens of milliseconds, and the cooperative pool has only as many threads as
/// cores (two here), which the scheduler, the recorder and the HTTP client need.
enum FileIO {
    private static let queue = DispatchQueue(label: "mprefd.download-file-io", qos: .utility)

    /// `body`'s result, computed on the file I/O queue.
    static func run<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(E) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}

import Foundation
@testable import MprefStore

/// A fresh directory under the system temp dir, removed by `cleanup()`.
struct TempDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "mprefd-store-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    var databasePath: String { path + "/mprefd.sqlite3" }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// The repository's root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

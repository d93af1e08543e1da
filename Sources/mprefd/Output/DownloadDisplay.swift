import MprefCore
import MprefStore
import Foundation

/// A download's checkpoint as `show --json` and `download --json` print it (keys = `downloads` columns).
struct DownloadJSON: Encodable {
    var file: String
    var partialFile: String
    var phase: String
    var startedAt: String
    var nextOffset: Int64
    var records: Int64
    var totalResults: Int64?
    var bytes: Int64
    var pages: Int64
    var sha256: String?
    var verifiedAt: String?
    var committedAt: String?
    var keepFiles: Bool?
    var lastError: String?

    enum CodingKeys: String, CodingKey {
        case file, phase, records, bytes, pages, sha256
        case partialFile = "partial_file"
        case startedAt = "started_at"
        case nextOffset = "next_offset"
        case totalResults = "total_results"
        case verifiedAt = "verified_at"
        case committedAt = "committed_at"
        case keepFiles = "keep_files"
        case lastError = "last_error"
    }

    init(_ c: DownloadCheckpoint) {
        file = c.file
        partialFile = c.partialFile
        phase = c.phase.rawValue
        startedAt = Timestamp.format(c.startedAt)
        nextOffset = c.nextOffset
        records = c.records
        totalResults = c.totalResults
        bytes = c.bytes
        pages = c.pages
        sha256 = c.sha256
        verifiedAt = c.verifiedAt.map(Timestamp.format)
        committedAt = c.committedAt.map(Timestamp.format)
        keepFiles = c.keepFiles
        lastError = c.lastError
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(file, forKey: .file)
        try c.encode(partialFile, forKey: .partialFile)
        try c.encode(phase, forKey: .phase)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(nextOffset, forKey: .nextOffset)
        try c.encode(records, forKey: .records)
        try c.encode(totalResults, forKey: .totalResults)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(pages, forKey: .pages)
        try c.encode(sha256, forKey: .sha256)
        try c.encode(verifiedAt, forKey: .verifiedAt)
        try c.encode(committedAt, forKey: .committedAt)
        try c.encode(keepFiles, forKey: .keepFiles)
        try c.encode(lastError, forKey: .lastError)
    }
}

enum DownloadDisplay {
    /// `1234 of 5000 records (24.7 %)`, or `1234 records` before `TotalResults` is known.
    static func progress(_ c: DownloadCheckpoint) -> String {
        guard let total = c.totalResults else { return "\(c.records) records" }
        let percent = total > 0 ? " (\(String(format: "%.1f", 100 * Double(c.records) / Double(total))) %)" : ""
        return "\(c.records) of \(total) records\(percent)"
    }

    /// `42%` of `TotalResults`, or the records so far before it is known (for `list`'s state column).
    static func percent(_ c: DownloadCheckpoint) -> String {
        guard let total = c.totalResults, total > 0 else { return "\(c.records) records" }
        return "\(min(100, Int(100 * Double(c.records) / Double(total))))%"
    }

    /// The `show` lines of a download.
    static func fields(_ c: DownloadCheckpoint) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("download", "\(c.phase.rawValue): \(progress(c)), \(c.bytes) bytes, \(c.pages) pages"),
            ("file", c.phase == .committed || c.phase == .committing ? c.file : c.partialFile),
        ]
        if let sha256 = c.sha256 { fields.append(("sha256", sha256)) }
        if let committed = c.committedAt {
            fields.append(("committed", Timestamp.format(committed) + (c.keepFiles == true ? " (keepFiles)" : "")))
        }
        return fields
    }
}

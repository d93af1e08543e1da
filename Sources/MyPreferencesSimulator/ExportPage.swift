import MprefCore
import NIOCore

/// One page answer of an export download, decided under the state lock and rendered outside it.
struct ExportPage: Sendable {
    /// The export's records.
    var records: ExportRecords
    /// 1-based index of the first record asked for.
    var offset: Int64
    /// Records per page asked for.
    var limit: Int64
    /// Records in this page (`Count`): those from `offset` to `min(offset + limit − 1, total)`, 0 past the end.
    var count: Int64
    /// Whether records follow this page.
    var hasMore: Bool
    var options: ExportOptions
    /// A fault that alters the body (`reset`, `slow`, `short`, `wrong_total`), if one applies.
    var fault: PageFault.Kind?

    /// Plans the page of `records` starting at `offset` (≥ 1) holding at most `limit` (≥ 1) records.
    init(records: ExportRecords, offset: Int64, limit: Int64, options: ExportOptions, fault: PageFault.Kind?) {
        self.records = records
        self.offset = offset
        self.limit = limit
        self.options = options
        self.fault = fault
        if offset > records.count {
            count = 0
            hasMore = false
        } else {
            let last = min(offset.addingSaturating(limit - 1), records.count)
            count = last - offset + 1
            hasMore = last < records.count
        }
    }

    /// Whether this page completes a download: it holds the last record (for an empty export: any page).
    var reachesEnd: Bool {
        records.count == 0 || (count > 0 && !hasMore)
    }

    /// `{"Count":n,"HasMore":b,"Limit":l,"Offset":o,"TotalResults":t,"UserProfilePreferences":[…]}`, compact,
    /// keys in that order (lower-cased first letters and/or `Preferences` as the options say).
    var body: ByteBuffer {
        func name(_ key: String) -> String {
            guard options.lowercaseKeys, let first = key.first else { return key }
            return first.lowercased() + key.dropFirst()
        }
        let total = fault == .wrongTotal ? records.count.addingSaturating(1) : records.count
        var json = JSONBytes(reservingCapacity: 128 + Int(clamping: count) * 700)
        json.raw("{"); json.key(name("Count")); json.int(count)
        json.raw(","); json.key(name("HasMore")); json.bool(hasMore)
        json.raw(","); json.key(name("Limit")); json.int(limit)
        json.raw(","); json.key(name("Offset")); json.int(offset)
        json.raw(","); json.key(name("TotalResults")); json.int(total)
        json.raw(","); json.key(name(options.recordsKey.rawValue)); json.raw("[")
        let written = fault == .short ? max(0, count - 1) : count
        for n in 0..<written {
            if n > 0 { json.raw(",") }
            records.write(offset + n, into: &json)
        }
        json.raw("]}")
        return ByteBuffer(bytes: json.bytes)
    }
}

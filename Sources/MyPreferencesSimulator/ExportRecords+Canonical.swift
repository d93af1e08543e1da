import MprefCore

extension ExportRecords {
    /// Generates the canonical file (every record's JSON bytes followed by `\n`, in order) and hands it to
    /// `consume` in batches of up to 1024 records — never whole in memory — yielding between batches so a
    /// large export does not hog a thread.
    func forEachCanonicalBatch(_ consume: ([UInt8]) -> Void) async {
        var index: Int64 = 1
        while index <= count {
            var json = JSONBytes(reservingCapacity: 1024 * 700)
            let batchEnd = min(index.addingSaturating(1023), count)
            while true {
                write(index, into: &json)
                json.bytes.append(UInt8(ascii: "\n"))
                if index == batchEnd { break }
                index += 1
            }
            consume(json.bytes)
            if index == count { break }
            index += 1
            await Task.yield()
        }
    }

    /// The size in bytes of the canonical file (see ``forEachCanonicalBatch(_:)``); costs a generation of
    /// every record.
    func canonicalByteCount() async -> Int64 {
        var bytes: Int64 = 0
        await forEachCanonicalBatch { bytes = bytes.addingSaturating(Int64($0.count)) }
        return bytes
    }
}

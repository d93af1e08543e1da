/// Keeps the last `capacity` bytes of a byte stream and counts every byte seen.
///
/// Memory stays at `capacity` bytes however much the hook writes: a ring buffer, filled with at
/// most two block copies per appended chunk.
struct TailBuffer: Sendable, Hashable {
    /// The most bytes kept.
    let capacity: Int
    /// Every byte appended, kept or not.
    private(set) var totalBytes: Int64 = 0
    /// The kept bytes; once full (`count == capacity`) a ring whose oldest byte is at `oldest`.
    private var storage: [UInt8] = []
    private var oldest = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        totalBytes += Int64(chunk.count)
        guard capacity > 0, !chunk.isEmpty else { return }
        if chunk.count >= capacity {
            storage = Array(chunk[(chunk.count - capacity)...])
            oldest = 0
            return
        }
        var rest = chunk[...]
        if storage.count < capacity {
            let fill = min(capacity - storage.count, rest.count)
            storage.append(contentsOf: rest.prefix(fill))
            rest = rest.dropFirst(fill)
            if rest.isEmpty { return }
        }
        // Full ring: overwrite the oldest bytes, wrapping once at most (rest.count < capacity).
        let capacity = self.capacity
        let start = oldest
        storage.withUnsafeMutableBytes { ring in
            let firstCount = min(rest.count, capacity - start)
            UnsafeMutableRawBufferPointer(rebasing: ring[start..<(start + firstCount)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest.prefix(firstCount)))
            let secondCount = rest.count - firstCount
            if secondCount > 0 {
                UnsafeMutableRawBufferPointer(rebasing: ring[0..<secondCount])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest.suffix(secondCount)))
            }
        }
        oldest = (start + rest.count) % capacity
    }

    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The kept bytes, oldest first.
    var bytes: [UInt8] {
        guard oldest > 0 else { return storage }
        return Array(storage[oldest...] + storage[..<oldest])
    }

    /// The kept bytes decoded as UTF-8, invalid sequences replaced by U+FFFD. When earlier bytes
    /// were dropped, continuation bytes at the very start (the rest of a character cut in two)
    /// are skipped instead of becoming a replacement character.
    var text: String {
        var kept = bytes[...]
        if totalBytes > Int64(kept.count) {
            var skipped = 0
            while skipped < 3, let first = kept.first, first & 0xC0 == 0x80 {
                kept = kept.dropFirst()
                skipped += 1
            }
        }
        return String(decoding: kept, as: UTF8.self)
    }
}

import MprefCore
/// The scheduler's in-memory priority queue of due polls: a binary min-heap on the monotonic due time.
///
/// Entries are never removed from the middle: a token that is rescheduled or stops being watched
/// gets a new generation, and stale entries are skipped when they surface (O(log n) per operation).
package struct PollQueue: Sendable {
    package struct Entry: Sendable, Hashable {
        package var due: ContinuousClock.Instant
        package var tokenID: TokenID
        package var generation: UInt64
        /// A per-host rate-limit slot is already booked for this entry.
        package var slotBooked: Bool
    }

    private var heap: [Entry] = []

    package init() {}

    package var count: Int { heap.count }
    package var isEmpty: Bool { heap.isEmpty }
    /// The earliest entry, without removing it.
    package var first: Entry? { heap.first }

    package mutating func reserveCapacity(_ n: Int) { heap.reserveCapacity(n) }

    package mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].due < heap[parent].due else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    package mutating func popFirst() -> Entry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].due < heap[smallest].due { smallest = left }
            if right < heap.count, heap[right].due < heap[smallest].due { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

/// Per-host request pacing: books evenly spaced send slots at `rate` per second, allowing a burst
/// of up to one second's worth after idleness. Booking (rather than retrying) keeps the cost O(1)
/// per request even when thousands of polls become due at once.
package struct RequestPacer: Sendable {
    package var interval: Duration
    package var burst: Duration
    private var nextSlot: ContinuousClock.Instant?

    /// - Parameter rate: requests per second, > 0.
    package init(rate: Double) {
        let safeRate = rate.isFinite && rate > 0 ? rate : 1
        interval = .clampedSeconds(1 / safeRate)
        burst = .seconds(1)
    }

    /// Books the next slot at or after `now`, and returns it (`<= now` means send now).
    package mutating func book(now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let earliest = now - burst
        let slot = max(nextSlot ?? earliest, earliest)
        nextSlot = slot + interval
        return max(slot, now)
    }
}

/// Per-source token buckets for the callback listener: each source (a peer address) may send
/// `burst` callbacks at once and `rate` per second on average; beyond that its requests are refused
/// (429) until its bucket refills. Pure: the caller passes the time (monotonic), so tests replay it.
///
/// Memory is bounded: at most ``maxSources`` buckets are kept. When a new source would exceed it,
/// buckets that have refilled completely (they are the same as a new one) are dropped first; if every
/// bucket is still in use, new sources share one overflow bucket — a flood from many addresses is
/// then limited as one source instead of growing the table.
package struct CallbackRateLimiter: Sendable {
    /// Tokens added per second to each bucket (> 0).
    package let rate: Double
    /// A bucket's size (≥ 1).
    package let burst: Double
    /// Most buckets kept. 4096.
    package static let maxSources = 4096
    /// The key of the shared bucket used when ``maxSources`` buckets are in use.
    package static let overflowKey = "<overflow>"

    private struct Bucket: Sendable {
        var tokens: Double
        var updatedAt: ContinuousClock.Instant
    }

    private var buckets: [String: Bucket] = [:]

    /// - Parameters:
    ///   - rate: callbacks per second per source; values ≤ 0 are taken as the smallest positive rate.
    ///   - burst: callbacks a source may send at once; values < 1 are taken as 1.
    package init(rate: Double, burst: Int) {
        self.rate = rate > 0 && rate.isFinite ? rate : .leastNormalMagnitude
        self.burst = Double(max(1, burst))
    }

    /// Sources with a bucket now.
    package var sourceCount: Int { buckets.count }

    /// Takes one token from `source`'s bucket at `now`: `true` when the callback may be served,
    /// `false` when the source is over its rate (the caller answers 429).
    package mutating func allow(_ source: String, now: ContinuousClock.Instant) -> Bool {
        var key = source
        if buckets[key] == nil, buckets.count >= Self.maxSources {
            pruneFull(now: now)
            if buckets.count >= Self.maxSources { key = Self.overflowKey }
        }
        var bucket = buckets[key] ?? Bucket(tokens: burst, updatedAt: now)
        bucket.tokens = refilled(bucket, now: now)
        bucket.updatedAt = max(bucket.updatedAt, now)
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        buckets[key] = bucket
        return allowed
    }

    private func refilled(_ bucket: Bucket, now: ContinuousClock.Instant) -> Double {
        let elapsed = now > bucket.updatedAt ? (now - bucket.updatedAt) : .zero
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return min(burst, bucket.tokens + seconds * rate)
    }

    /// Drops the buckets that are full again (indistinguishable from a new one).
    private mutating func pruneFull(now: ContinuousClock.Instant) {
        buckets = buckets.filter { _, bucket in refilled(bucket, now: now) < burst }
    }
}

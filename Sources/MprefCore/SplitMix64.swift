/// Sebastiano Vigna's SplitMix64: a tiny, fast, well-mixed deterministic generator, for everything
/// that must replay from a seed — the simulator's records and durations, the benchmarks' workloads,
/// the tests' random choices. Not for secrets (callback ids come from the system's CSPRNG).
///
/// `state` is the whole generator: the same state gives the same sequence on every platform and
/// Swift version (unlike `SystemRandomNumberGenerator`), so a seed printed by a failed run replays it.
package struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    package var state: UInt64

    package init(state: UInt64) { self.state = state }

    /// The same as `init(state: seed)`.
    package init(seed: UInt64) { self.state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next value without advancing.
    package var peek: UInt64 {
        var copy = self
        return copy.next()
    }
}

import MprefCore

/// When each record of a segment's dataset changed, in whole milliseconds since the Unix epoch (UTC).
///
/// Positions are 1-based: `1…baseRecords` are the base population, spread over the history before *start*
/// (record *i* at `start − history + i·history/baseRecords`, rounded down to the millisecond); position
/// `baseRecords + k` (k ≥ 1) is the *k*-th new change, at `start + k/changesPerSecond` (rounded down).
/// Change times never decrease with the position, so "changed in [from, to)" is a range of positions,
/// found by binary search: an export is never materialised.
struct SegmentTimeline: Sendable, Equatable {
    /// Records changed before *start* (≥ 0).
    let baseRecords: Int64
    /// *start*: when the segment entry was loaded, in milliseconds.
    let startMilliseconds: Int64
    /// How far back the base population reaches, in milliseconds (≥ 0).
    let historyMilliseconds: Int64
    /// New changes per second after *start* (≥ 0; 0: none).
    let changesPerSecond: Double

    /// The change time of the record at `position` (≥ 1), in milliseconds; `Int64.max` for a new change
    /// that never comes (`changesPerSecond` 0).
    func changeTime(ofRecordAt position: Int64) -> Int64 {
        if position <= baseRecords, baseRecords > 0 {
            // position · history / baseRecords without overflow; the quotient is at most `history`.
            let product = max(0, position).multipliedFullWidth(by: historyMilliseconds)
            let spread = baseRecords.dividingFullWidth(product).quotient
            return startMilliseconds.subtractingSaturating(historyMilliseconds).addingSaturating(spread)
        }
        guard changesPerSecond > 0 else { return .max }
        let k = position - baseRecords
        return startMilliseconds.addingSaturating(
            Int64(saturating: (Double(k) * 1000 / changesPerSecond).rounded(.down)))
    }

    /// How many records changed strictly before `milliseconds`: the position of the last such record
    /// (0 when none).
    func recordsChanged(before milliseconds: Int64) -> Int64 {
        let base = lastPosition(in: 0...baseRecords, before: milliseconds)
        guard base == baseRecords, changesPerSecond > 0, milliseconds > startMilliseconds else { return base }
        // An upper bound for k: floor(k·1000/rate) < milliseconds − start ⇒ k < (milliseconds − start + 1)·rate/1000.
        let estimate = (Double(milliseconds - startMilliseconds) + 1) * changesPerSecond / 1000
        var high = Int64(saturating: estimate.rounded(.up)).addingSaturating(1)
        while high < Int64.max - baseRecords, changeTime(ofRecordAt: baseRecords + high) < milliseconds {
            high = high.multipliedSaturating(by: 2)  // floating-point slack; never in practice
        }
        return lastPosition(in: baseRecords...baseRecords.addingSaturating(high), before: milliseconds)
    }

    /// The largest position in `range` whose change time is before `milliseconds`, given that every
    /// position up to `range.lowerBound` qualifies (position 0 stands for "none").
    private func lastPosition(in range: ClosedRange<Int64>, before milliseconds: Int64) -> Int64 {
        var low = range.lowerBound  // qualifies
        var high = range.upperBound
        if high > low, changeTime(ofRecordAt: high) < milliseconds { return high }
        // Invariant: low qualifies (or is the lower bound), high does not (or low == high).
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if changeTime(ofRecordAt: middle) < milliseconds { low = middle } else { high = middle }
        }
        return low
    }
}

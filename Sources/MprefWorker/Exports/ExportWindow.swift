import Foundation
import MprefCore

/// Where an export's window starts: the pure rule behind `mprefd export --since/--incremental`.
///
/// - `--incremental` with a cursor: the cursor (the `window_end` of the segment's newest delivered
///   export) minus `overlap`;
/// - otherwise `--since` when given (also the fallback of `--incremental` without a cursor);
/// - otherwise none: a full export.
package enum ExportWindow {
    /// The window's start, and whether it came from the cursor.
    package struct Start: Sendable, Hashable {
        /// `nil` for a full export.
        package var start: Date?
        /// Whether the cursor decided it.
        package var fromCursor: Bool
    }

    /// Why a window cannot start.
    package struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        package var description: String
        /// The cursor (a database value), not an argument, is at fault.
        package var fromCursor: Bool = false
    }

    /// - Parameters:
    ///   - since: `--since`.
    ///   - incremental: `--incremental`.
    ///   - overlap: `--overlap` (≥ 0), subtracted from the cursor only.
    ///   - cursor: the segment's cursor position, if any.
    ///   - now: the wall clock: a start after it is refused.
    package static func start(since: Date?, incremental: Bool, overlap: Duration, cursor: Date?, now: Date)
        throws(Problem) -> Start
    {
        let chosen: Start
        if incremental, let cursor {
            chosen = Start(
                start: WallClock.pinned(cursor.addingTimeInterval(-overlap.clamped.seconds)), fromCursor: true)
        } else {
            chosen = Start(start: since, fromCursor: false)
        }
        if let start = chosen.start, start > now {
            let what =
                chosen.fromCursor ? "the cursor (\(Timestamp.format(start)))" : "--since \(Timestamp.format(start))"
            throw Problem(
                description:
                    "\(what) is in the future (now \(Timestamp.format(now))); check the clock, or `mprefd cursors reset`",
                fromCursor: chosen.fromCursor)
        }
        return chosen
    }
}

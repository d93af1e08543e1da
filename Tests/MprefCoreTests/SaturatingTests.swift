import Foundation
import MprefCore
import Testing

/// The named forms every outside value goes through: they pin at the bounds, never trap.
@Suite struct SaturatingTests {
    @Test func addingAndSubtractingPinAtTheBounds() {
        #expect(Int64.max.addingSaturating(1) == .max)
        #expect(Int64.min.addingSaturating(-1) == .min)
        #expect(Int64(5).addingSaturating(-7) == -2)
        #expect(Int64.min.subtractingSaturating(1) == .min)
        #expect(Int64.max.subtractingSaturating(-1) == .max)
        #expect(Int.max.incrementedSaturating == .max)
        #expect(Int(41).incrementedSaturating == 42)
    }

    @Test func multiplyingPinsByTheSignOfTheProduct() {
        #expect(Int64.max.multipliedSaturating(by: 2) == .max)
        #expect(Int64.min.multipliedSaturating(by: 2) == .min)
        #expect(Int64.max.multipliedSaturating(by: -2) == .min)
        #expect(Int64.min.multipliedSaturating(by: -1) == .max)
        #expect(Int64(-3).multipliedSaturating(by: 4) == -12)
    }

    static let doubles: [(Double, Int64)] = [
        (9.223372036854775807e18, Int64.max),  // rounds to 2^63: `Int64(_:)` traps here (issue 12)
        (1e300, Int64.max), (Double.infinity, Int64.max), (-Double.infinity, Int64.min), (-1e300, Int64.min),
        (Double.nan, 0), (-0.0, 0), (1.9, 1), (-1.9, -1), (4_000_000_000, 4_000_000_000),
    ]

    @Test(arguments: doubles)
    func integersFromDoublesNeverTrap(value: Double, expected: Int64) {
        #expect(Int64(saturating: value) == expected)
    }

    @Test func narrowerIntegersPinToo() {
        #expect(Int32(saturating: 1e10) == .max)
        #expect(UInt8(saturating: -5) == 0)
    }

    @Test func durationsFromOutsideValuesArePinned() {
        #expect(Duration.clampedSeconds(Double.infinity) == .zero)
        #expect(Duration.clampedSeconds(-1.0) == .zero)
        #expect(Duration.clampedSeconds(1e300) == .longest)
        #expect(Duration.clampedSeconds(Int64.max) == .longest)
        #expect(Duration.clampedSeconds(Int64(-4)) == .zero)
        #expect(Duration.clampedSeconds(Int64(90)) == .seconds(90))
        #expect(Duration.seconds(Int64.max).milliseconds == .max)
        #expect(Duration.seconds(Int64.max).nanoseconds == .max)
        #expect(Duration.seconds(-5).clamped == .zero)
        #expect(Duration.longest.seconds == 9_000_000_000)
    }

    @Test func wallClockInstantsStayWithinFourDigitYears() {
        #expect(WallClock.milliseconds(Date(timeIntervalSince1970: 1e300)) == WallClock.latestMilliseconds)
        #expect(WallClock.milliseconds(Date(timeIntervalSince1970: -1e300)) == WallClock.earliestMilliseconds)
        #expect(WallClock.milliseconds(Date(timeIntervalSince1970: .nan)) == 0)
        #expect(WallClock.milliseconds(Date(timeIntervalSince1970: -0.0005)) == -1)
        #expect(WallClock.seconds(Date(timeIntervalSince1970: -0.5)) == -1)
        let late = WallClock.adding(.longest, to: Date(timeIntervalSince1970: 253_000_000_000))
        #expect(late.timeIntervalSince1970 <= Double(WallClock.latestMilliseconds) / 1000)
        #expect(
            WallClock.adding(.seconds(-10), to: Date(timeIntervalSince1970: 100)) == Date(timeIntervalSince1970: 100))
        #expect(
            WallClock.adding(.seconds(10), to: Date(timeIntervalSince1970: 100)) == Date(timeIntervalSince1970: 110))
    }
}

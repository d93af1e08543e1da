import Testing
@testable import MprefWorker

/// The scheduler's, recorder's and hook queue's one waiting primitive. Real time, short waits.
@Suite struct MailboxTests {
    let clock = ContinuousClock()

    @Test func aTimedTakeReturnsEmptyHandedAtItsDeadlineAndNotBefore() async {
        let mailbox = Mailbox<Int>()
        let start = clock.now
        let taken = await mailbox.take(until: start + .milliseconds(80))
        #expect(taken.isEmpty)
        #expect(clock.now - start >= .milliseconds(80))
        // well before the hour-long deadlines below, even on a starved machine
        #expect(clock.now - start < .seconds(600))
    }

    @Test func aPostEndsATimedTakeAtOnce() async {
        let mailbox = Mailbox<Int>()
        let start = clock.now
        Task {
            try? await Task.sleep(for: .milliseconds(50))
            mailbox.post(7)
        }
        // The deadline is an hour away: returning well before it means the post ended the wait (the
        // bound is loose so that a starved 2-core machine cannot fail it).
        let taken = await mailbox.take(until: start + .seconds(3600))
        #expect(taken == [7])
        #expect(clock.now - start < .seconds(600))
    }

    @Test func whatIsBufferedOrAPastDeadlineOrCloseReturnsWithoutWaiting() async {
        let mailbox = Mailbox<Int>()
        mailbox.post(1)
        mailbox.post(2)
        #expect(await mailbox.take(until: clock.now + .seconds(30)) == [1, 2])
        #expect(await mailbox.take(until: clock.now - .seconds(1)) == [])
        mailbox.close()
        let start = clock.now
        #expect(await mailbox.take(until: start + .seconds(3600)) == [])
        #expect(clock.now - start < .seconds(600))  // well before the hour-long deadline, even on a starved machine
    }

    @Test func cancellationEndsATimedTake() async {
        let mailbox = Mailbox<Int>()
        let start = clock.now
        let waiter = Task { await mailbox.take(until: start + .seconds(3600)) }
        try? await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        #expect(await waiter.value == [])
        #expect(clock.now - start < .seconds(600))  // well before the hour-long deadline, even on a starved machine
    }

    /// A timed wait ended by a post must leave nothing behind that ends the next wait early.
    @Test func anEarlierWaitsTimerDoesNotEndALaterWait() async {
        let mailbox = Mailbox<Int>()
        mailbox.post(1)
        Task {
            try? await Task.sleep(for: .milliseconds(20))
            mailbox.post(2)
        }
        #expect(await mailbox.take(until: clock.now + .milliseconds(100)) == [1])
        #expect(await mailbox.take(until: clock.now + .milliseconds(100)) == [2])  // ended by the post
        let start = clock.now
        Task {
            try? await Task.sleep(for: .milliseconds(400))
            mailbox.post(3)
        }
        // ~80 ms into this untimed wait the previous deadline passes; only the post ends it.
        #expect(await mailbox.take() == [3])
        #expect(clock.now - start >= .milliseconds(390))
        // And a timed wait after that still ends at its own deadline.
        let again = clock.now
        #expect(await mailbox.take(until: again + .milliseconds(60)) == [])
        #expect(clock.now - again >= .milliseconds(60))
    }
}

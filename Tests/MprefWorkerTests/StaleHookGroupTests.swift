import Foundation
import Testing

@testable import MprefWorker

/// Issue 17.4: which process group a restarted daemon may end, and `/proc` parsing.
@Suite struct StaleHookGroupTests {
    let recorded = "boot-a/1234"

    func seen(_ live: Int, leader: String?, boot: String? = "boot-a") -> ProcessGroupObservation {
        ProcessGroupObservation(pgid: 4242, liveMembers: live, leaderIdentity: leader, bootID: boot)
    }

    @Test func aGroupWithoutLiveMembersIsGone() {
        #expect(
            StaleHookGroupDecision.decide(
                recordedIdentity: recorded, ownGroup: 77, observation: seen(0, leader: recorded)) == .gone)
        #expect(
            StaleHookGroupDecision.decide(recordedIdentity: nil, ownGroup: 77, observation: seen(0, leader: nil))
                == .gone)
    }

    @Test func theSameLeaderOrOnlyItsMembersLeftAreEnded() {
        #expect(
            StaleHookGroupDecision.decide(
                recordedIdentity: recorded, ownGroup: 77, observation: seen(2, leader: recorded)) == .end)
        #expect(
            StaleHookGroupDecision.decide(recordedIdentity: recorded, ownGroup: 77, observation: seen(1, leader: nil))
                == .end)
    }

    /// Found by a newcomer: `pgid` set by hand with no identity killed an unrelated `setsid sleep`.
    @Test func aGroupWithoutARecordedIdentityIsNeverSignalled() {
        for identity in [nil, ""] as [String?] {
            if case .notOurs = StaleHookGroupDecision.decide(
                recordedIdentity: identity, ownGroup: 77, observation: seen(1, leader: "boot-a/99"))
            {
            } else {
                Issue.record("a group with no recorded identity (\(String(describing: identity))) must be left alone")
            }
        }
    }

    @Test func aReusedPIDOrAnotherBootIsLeftAlone() {
        if case .notOurs = StaleHookGroupDecision.decide(
            recordedIdentity: recorded, ownGroup: 77, observation: seen(1, leader: "boot-a/9999"))
        {
        } else {
            Issue.record("a different leader start time means a reused PID")
        }
        if case .notOurs = StaleHookGroupDecision.decide(
            recordedIdentity: recorded, ownGroup: 77, observation: seen(1, leader: nil, boot: "boot-b"))
        {
        } else {
            Issue.record("nothing survives a reboot")
        }
    }

    @Test func theDaemonsOwnGroupAndGroupsZeroAndOneAreNeverSignalled() {
        for pgid: Int32 in [0, 1, -5, 77] {
            let observation = ProcessGroupObservation(
                pgid: pgid, liveMembers: 3, leaderIdentity: recorded, bootID: "boot-a")
            if case .notOurs = StaleHookGroupDecision.decide(
                recordedIdentity: recorded, ownGroup: 77, observation: observation)
            {
            } else {
                Issue.record("pgid \(pgid) must never be signalled")
            }
        }
    }

    @Test func statFieldsAreCountedAfterTheLastParenthesis() throws {
        let text =
            "77 (sh (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 2000000 100 18446744073709551615"
        let stat = try #require(ProcessIdentity.Stat.parse(text))
        #expect(stat.state == "S")
        #expect(stat.processGroup == 4242)
        #expect(stat.startTime == 98765)
        #expect(ProcessIdentity.Stat.parse("garbage") == nil)
    }

    @Test func thisProcessIsObservedAsALiveGroupMember() {
        let group = getpgrp()
        #expect(ProcessIdentity.liveMembers(ofGroup: group) >= 1)
        #expect(ProcessIdentity.identity(of: getpid()) != nil)
        #expect(ProcessIdentity.identity(of: getpid()) == ProcessIdentity.identity(of: getpid()))
    }
}

import Foundation
import MprefCore
import MyPreferences
import MprefTestSupport
import Testing
@testable import MprefWorker

struct DownloadPolicyTests {
    func page(count: Int64? = nil, records: Int, hasMore: Bool? = nil, offset: Int64? = nil, total: Int64? = nil)
        -> ExportPage
    {
        ExportPage(
            count: count, hasMore: hasMore, limit: nil, offset: offset, totalResults: total, records: records,
            recordKey: "Preferences", ndjson: [])
    }

    @Test func aPageThatFitsIsStored() {
        #expect(
            DownloadPolicy.problem(
                with: page(count: 10, records: 10, offset: 11, total: 30), askedOffset: 11, storedRecords: 10,
                previousTotal: 30) == nil)
        #expect(
            DownloadPolicy.problem(
                with: page(records: 10, offset: 1), askedOffset: 1, storedRecords: 0, previousTotal: nil) == nil)
    }

    @Test func aPageWithoutOffsetIsNeverStored() {
        // A server that ignores `offset` would otherwise have the same records stored again and again.
        #expect(
            DownloadPolicy.problem(
                with: page(count: 3, records: 3, total: 9), askedOffset: 4, storedRecords: 3, previousTotal: 9)?
                .contains("no Offset") == true)
    }

    @Test func withoutTotalResultsRowCountBoundsTheRecords() {
        #expect(
            DownloadPolicy.problem(
                with: page(records: 3, hasMore: true, offset: 7), askedOffset: 7, storedRecords: 6, previousTotal: nil,
                rowCount: 9) == nil)
        #expect(
            DownloadPolicy.problem(
                with: page(records: 3, hasMore: true, offset: 10), askedOffset: 10, storedRecords: 9,
                previousTotal: nil,
                rowCount: 9)?.contains("beyond RowCount 9") == true)
    }

    @Test func problemsNameBothNumbers() {
        #expect(
            DownloadPolicy.problem(
                with: page(records: 1, offset: 10), askedOffset: 11, storedRecords: 10, previousTotal: nil)?.contains(
                    "starts at record 10, but record 11") == true)
        #expect(
            DownloadPolicy.problem(
                with: page(count: 10, records: 9, offset: 1), askedOffset: 1, storedRecords: 0, previousTotal: nil)?
                .contains("Count 10 but holds 9 records (a short page)") == true)
        #expect(
            DownloadPolicy.problem(
                with: page(count: -1, records: 9, offset: 1), askedOffset: 1, storedRecords: 0, previousTotal: nil)
                == "the page says Count -1 but holds 9 records")
        #expect(
            DownloadPolicy.problem(
                with: page(records: 1, offset: 1, total: 31), askedOffset: 1, storedRecords: 0, previousTotal: 30)?
                .contains("from 30 to 31") == true)
        #expect(
            DownloadPolicy.problem(
                with: page(records: 0, hasMore: true, offset: 1), askedOffset: 1, storedRecords: 0, previousTotal: nil)?
                .contains("HasMore") == true)
        #expect(
            DownloadPolicy.problem(
                with: page(records: 5, offset: 11, total: 12), askedOffset: 11, storedRecords: 10, previousTotal: nil)?
                .contains("beyond TotalResults 12") == true)
        // Counts from outside never trap: at Int64.max the sum saturates and still overruns nothing.
        #expect(
            DownloadPolicy.problem(
                with: page(records: 5, offset: .max, total: .max), askedOffset: .max, storedRecords: .max,
                previousTotal: .max) == nil)
    }

    @Test func theLastPageIsKnownFromHasMoreElseFromTheTotal() {
        #expect(DownloadPolicy.isLast(page(records: 10, hasMore: false), recordsAfter: 10, total: 100))
        #expect(!DownloadPolicy.isLast(page(records: 10, hasMore: true), recordsAfter: 100, total: 100))
        #expect(DownloadPolicy.isLast(page(records: 10), recordsAfter: 100, total: 100))
        #expect(!DownloadPolicy.isLast(page(records: 10), recordsAfter: 90, total: 100))
        #expect(DownloadPolicy.isLast(page(records: 0), recordsAfter: 90, total: nil))
    }

    @Test func countsAreVerifiedAgainstTotalResultsAndRowCount() {
        #expect(DownloadPolicy.countMismatch(records: 100, totalResults: 100, rowCount: 100) == nil)
        // RowCount 0 = unknown
        #expect(DownloadPolicy.countMismatch(records: 100, totalResults: 100, rowCount: 0) == nil)
        #expect(
            DownloadPolicy.countMismatch(records: 99, totalResults: 100, rowCount: nil)
                == "records written 99 ≠ TotalResults 100")
        #expect(
            DownloadPolicy.countMismatch(records: 100, totalResults: nil, rowCount: 101)
                == "records written 100 ≠ RowCount 101")
    }

    @Test func theNextPageIsAskedForEarlyOnlyWhenTheCheckpointSaysRecordsRemainAfterAFullPage() {
        // Known TotalResults in the stored checkpoint, records left after a full page: prefetch.
        #expect(DownloadPolicy.prefetchesNext(askedOffset: 1, limit: 10, committedTotal: 100, failures: 0))
        #expect(DownloadPolicy.prefetchesNext(askedOffset: 81, limit: 10, committedTotal: 91, failures: 0))
        // The first page (no stored TotalResults), the last page, a page that ends exactly at the total.
        #expect(!DownloadPolicy.prefetchesNext(askedOffset: 1, limit: 10, committedTotal: nil, failures: 0))
        #expect(!DownloadPolicy.prefetchesNext(askedOffset: 91, limit: 10, committedTotal: 100, failures: 0))
        #expect(!DownloadPolicy.prefetchesNext(askedOffset: 81, limit: 10, committedTotal: 90, failures: 0))
        // Extreme values saturate instead of trapping.
        #expect(!DownloadPolicy.prefetchesNext(askedOffset: .max, limit: 10, committedTotal: .max - 1, failures: 0))
        #expect(!DownloadPolicy.prefetchesNext(askedOffset: 1, limit: 0, committedTotal: 100, failures: 0))
        #expect(!DownloadPolicy.prefetchesNext(askedOffset: .min, limit: .min, committedTotal: .min, failures: 0))
        // After a failed request (a page that was not one, a 500): one page at a time until one is stored.
        #expect(!DownloadPolicy.prefetchesNext(askedOffset: 1, limit: 10, committedTotal: 100, failures: 1))
    }

    @Test func spaceNeededSaturates() {
        #expect(DownloadPolicy.spaceNeeded(byteCount: 1000, margin: 0.1) == 1100 + (64 << 20))
        #expect(DownloadPolicy.spaceNeeded(byteCount: .max, margin: 10) == .max)
        #expect(DownloadPolicy.spaceNeeded(byteCount: -5, margin: -1) == 64 << 20)
    }

    @Test func filesAreNamedOnlyFromValidatedValues() {
        var settings = DownloadSettings()
        settings.directory = "/data/x"
        #expect(settings.file(clientID: "ACME_Co", accessToken: 42) == "/data/x/ACME_Co/42.ndjson")
        // A client ID that could name another path is no `ClientID`: it never reaches `file`.
        for bad in ["..", ".", "a/b", "", "a\u{0}b", "ü"] {
            #expect(ClientID(bad) == nil, "\(bad)")
        }
        #expect(settings.file(clientID: "ACME", accessToken: 0) == nil)
    }
}

/// The `.partial` file against its checkpoint: real files in a temporary directory.
struct DownloadFileTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dlfile-\(UUID().uuidString)").path

    @Test func appendsDurablyAndResumesAtTheCheckpointDroppingWhatCameAfter() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let final = directory + "/C/1.ndjson"
        let openedFile = try DownloadFile.open(partial: final + ".partial", final: final, bytes: 0, sha256: nil)
        let (file, restarted) = (openedFile.file, openedFile.restarted)
        #expect(!restarted)
        try file.append(Array("a\n".utf8))
        let checkpoint = (bytes: file.bytes, sha: file.digest)
        try file.append(Array("b\n".utf8))  // appended but never checkpointed (a kill -9 here)
        let openedAgain = try DownloadFile.open(
            partial: final + ".partial", final: final, bytes: checkpoint.bytes, sha256: checkpoint.sha)
        let (again, restartedAgain) = (openedAgain.file, openedAgain.restarted)
        #expect(!restartedAgain && again.bytes == 2)
        try again.append(Array("c\n".utf8))
        let digest = try again.finish(as: final)
        #expect(try String(contentsOfFile: final, encoding: .utf8) == "a\nc\n")
        #expect(digest == "b72cf6d7918130f75347ff0f8b6e9fde004ee6d7fc26af90a349707207f72750")  // sha256 of "a\nc\n"
        #expect((try FileManager.default.attributesOfItem(atPath: final)[.posixPermissions] as? Int) == 0o640)
    }

    /// Each page, once durable, leaves the page cache (a download never reads it back): the whole
    /// memory pages written are no longer resident, the last partial one is (so the next append does
    /// not read it from disk). Seen with `mincore(2)` on the real file.
    @Test(
        .enabled(
            if: Self.fileSystemType(of: FileManager.default.temporaryDirectory.path) != "tmpfs",
            "tmpfs keeps its pages in memory whatever the advice"))
    func durablePagesLeaveThePageCacheButTheLastPartialOneStays() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let final = directory + "/C/5.ndjson"
        let file = try DownloadFile.open(partial: final + ".partial", final: final, bytes: 0, sha256: nil).file
        let line = Array(String(repeating: "x", count: 49_999).utf8) + [0x0A]
        for _ in 0..<3 { try file.append(line) }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let length = 3 * line.count
        let pages = (length + pageSize - 1) / pageSize
        let fd = open(final + ".partial", O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let mapped = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0)
        try #require(mapped != MAP_FAILED)
        defer { munmap(mapped, length) }
        var resident = [UInt8](repeating: 0, count: pages)
        try #require(mincore(mapped, length, &resident) == 0)
        let residentWhole = resident.dropLast().filter { $0 & 1 != 0 }.count
        #expect(residentWhole == 0, "\(residentWhole) of \(pages - 1) whole pages still cached")
        #expect(resident.last.map { $0 & 1 != 0 } == true, "the last, partial page was dropped")
    }

    /// The type of the file system mounted deepest above `path` (`/proc/self/mounts`), e.g. `ext4`.
    static func fileSystemType(of path: String) -> String? {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return nil }
        let entries = mounts.split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.count > 2 }
        let holding = entries.filter { path == $0[1] || path.hasPrefix($0[1] == "/" ? "/" : $0[1] + "/") }
        return holding.max { $0[1].count < $1[1].count }.map { String($0[2]) }
    }

    @Test func aFileThatDoesNotMatchItsCheckpointStartsOver() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let final = directory + "/C/2.ndjson"
        let openedFile = try DownloadFile.open(partial: final + ".partial", final: final, bytes: 0, sha256: nil)
        let (file, _) = (openedFile.file, openedFile.restarted)
        try file.append(Array("abc\n".utf8))
        let openedOther = try DownloadFile.open(
            partial: final + ".partial", final: final, bytes: 4, sha256: String(repeating: "0", count: 64))
        let (other, restarted) = (openedOther.file, openedOther.restarted)
        #expect(restarted && other.bytes == 0)
        let openedShorter = try DownloadFile.open(partial: final + ".partial", final: final, bytes: 1000, sha256: nil)
        let (shorter, restartedShort) = (openedShorter.file, openedShorter.restarted)
        #expect(restartedShort && shorter.bytes == 0)
    }

    /// Appends `text` to `path` by hand (not through ``DownloadFile``: no note).
    func appendByHand(_ text: [UInt8], to path: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text))
    }

    @Test func aRestartCutsWhatFollowsTheCheckpointAndHandsBackThePageSpooledThere() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let final = directory + "/C/4.ndjson"
        let partial = final + ".partial"
        let file = try DownloadFile.open(partial: partial, final: final, bytes: 0, sha256: nil, nextOffset: 1).file
        try file.append(Array("{\"a\":1}\n".utf8))
        let checkpoint = (bytes: file.bytes, sha: file.digest)
        // The next page (offset 2) spooled, then written, its checkpoint never stored (a kill -9 there).
        let body = Array(#"{"Offset":2,"Preferences":[{"b":[2,"x"]},{"c":3}]}"#.utf8)
        try file.spool(PageBody(body), offset: 2)
        try file.append(Array("{\"b\":[2,\"x\"]}\n{\"c\":3}\n".utf8))
        let opened = try DownloadFile.open(
            partial: partial, final: final, bytes: checkpoint.bytes, sha256: checkpoint.sha, nextOffset: 2)
        #expect(!opened.restarted && opened.file.bytes == checkpoint.bytes)
        #expect(opened.spooledBody == PageBody(body))
        // The page's records stored again from the spool: the file is as if nothing had happened.
        guard case .ok(let page) = try #require(opened.spooledBody).decoded() else {
            Issue.record("the spooled body did not decode")
            return
        }
        try opened.file.append(page.ndjson)
        let digest = try opened.file.finish(as: final)
        let kept = "{\"a\":1}\n{\"b\":[2,\"x\"]}\n{\"c\":3}\n"
        #expect(try String(contentsOfFile: final, encoding: .utf8) == kept)
        #expect(!FileManager.default.fileExists(atPath: partial + ".page"))
        // The checksum carried through the restart equals one taken of the whole content in one go.
        let whole = try DownloadFile.open(
            partial: directory + "/C/4b.partial", final: directory + "/C/4b", bytes: 0, sha256: nil
        ).file
        try whole.append(Array(kept.utf8))
        #expect(digest == whole.digest)
    }

    @Test func onlyTheSpoolOfThisCheckpointWholeAndUneditedIsHandedBack() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let final = directory + "/C/5.ndjson"
        let partial = final + ".partial"
        let body = PageBody(Array(#"{"Offset":2,"Preferences":[{"b":2},{"c":3}]}"#.utf8))
        /// A file holding `{}` (checkpointed at offset 2), the next page spooled at `start`/`offset`.
        func spooled(start: Int64? = nil, offset: Int64 = 2) throws -> (bytes: Int64, sha: String?) {
            let file = try DownloadFile.open(partial: partial, final: final, bytes: 0, sha256: nil).file
            try file.append(Array("{}\n".utf8))
            try PageSpool.write(body, start: start ?? file.bytes, offset: offset, to: partial + ".page")
            return (file.bytes, file.digest)
        }
        func reopened(_ checkpoint: (bytes: Int64, sha: String?), nextOffset: Int64? = 2) throws -> PageBody? {
            try DownloadFile.open(
                partial: partial, final: final, bytes: checkpoint.bytes, sha256: checkpoint.sha, nextOffset: nextOffset
            ).spooledBody
        }
        // Another page's spool: written at another place in the file, or for another offset.
        #expect(try reopened(try spooled(start: 0)) == nil)
        #expect(try reopened(try spooled(offset: 3)) == nil)
        // Cut short, edited in place (a zero as a power loss can leave), without a header, garbled.
        var checkpoint = try spooled()
        #expect(truncate(partial + ".page", off_t(PageSpool.headerLength + body.count - 1)) == 0)
        #expect(try reopened(checkpoint) == nil)
        checkpoint = try spooled()
        let handle = try #require(FileHandle(forWritingAtPath: partial + ".page"))
        try handle.seek(toOffset: UInt64(PageSpool.headerLength + 5))
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        #expect(try reopened(checkpoint) == nil)
        checkpoint = try spooled()
        try FileManager.default.removeItem(atPath: partial + ".page")
        #expect(try reopened(checkpoint) == nil)
        checkpoint = try spooled()
        try Data("00000000000000000003 garbled\n".utf8).write(to: URL(fileURLWithPath: partial + ".page"))
        #expect(try reopened(checkpoint) == nil)
        // A checkpoint that does not match the file (the download starts over): no spool either.
        checkpoint = try spooled()
        #expect(try reopened((checkpoint.bytes, String(repeating: "0", count: 64))) == nil)
        // The same spool intact, asked for at its checkpoint: handed back (each case above fails for its edit alone).
        #expect(try reopened(try spooled()) == body)
        #expect(try reopened(try spooled(), nextOffset: nil) == nil)
    }

    @Test func aRenamedFileWhoseCheckpointWasLostIsTakenBack() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let final = directory + "/C/3.ndjson"
        let openedFile = try DownloadFile.open(partial: final + ".partial", final: final, bytes: 0, sha256: nil)
        let (file, _) = (openedFile.file, openedFile.restarted)
        try file.append(Array("x\n".utf8))
        let sha = file.digest
        _ = try file.finish(as: final)
        let openedBack = try DownloadFile.open(partial: final + ".partial", final: final, bytes: 2, sha256: sha)
        let (back, restarted) = (openedBack.file, openedBack.restarted)
        #expect(!restarted && back.bytes == 2)
        #expect(
            FileManager.default.fileExists(atPath: final + ".partial") && !FileManager.default.fileExists(atPath: final)
        )
    }
}

/// The one pause rule the scheduler and `mprefd list` share.
struct PauseRuleTests {
    @Test func theLaterEndHoldsTheToken() {
        #expect(PauseRule.effectiveDue(planned: 10, host: nil, account: nil) == (10, nil))
        #expect(PauseRule.effectiveDue(planned: 10, host: 5, account: 8) == (10, nil))
        #expect(PauseRule.effectiveDue(planned: 10, host: 20, account: 15) == (20, .host))
        #expect(PauseRule.effectiveDue(planned: 10, host: 15, account: 20) == (20, .account))
        #expect(PauseRule.effectiveDue(planned: 10, host: 20, account: 20) == (20, .host))
        #expect(PauseRule.effectiveDue(planned: 10, host: 10, account: nil) == (10, nil))
    }
}

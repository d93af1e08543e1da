import Foundation
import Testing

import MyPreferences

@testable import MprefWorker

/// The note's check of a page: any one changed byte, wherever it falls (each lane of the word-wise
/// hash and the bytes after the last whole block), and any change of length give another check.
struct PageSpoolTests {
    @Test func everyChangedByteAndEveryLengthGivesAnotherCheck() {
        let page = (0..<75).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let original = page.withUnsafeBytes { PageSpool.check($0) }
        for position in page.indices {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var edited = page
                edited[position] ^= flip
                #expect(edited.withUnsafeBytes { PageSpool.check($0) } != original, "byte \(position) ^ \(flip)")
            }
        }
        // Two words swapped between lanes, a page cut short, one grown by a zero byte.
        var swapped = page
        swapped.swapAt(0, 8)
        #expect(swapped.withUnsafeBytes { PageSpool.check($0) } != original)
        #expect(page.dropLast().withUnsafeBytes { PageSpool.check($0) } != original)
        #expect((page + [0]).withUnsafeBytes { PageSpool.check($0) } != original)
        #expect([UInt8]().withUnsafeBytes { PageSpool.check($0) } != [0].withUnsafeBytes { PageSpool.check($0) })
    }

    @Test func aSpoolIsReadBackAsWrittenOnlyForItsOwnPlaceAndWithinTheLimit() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path
        defer { unlink(path) }
        let body = Array(#"{"Offset":1001,"Preferences":[{"a":1}]}"#.utf8)
        try PageSpool.write(PageBody(body), start: 1_234_567, offset: 1001, to: path)
        #expect(PageSpool.read(path, start: 1_234_567, offset: 1001, maxLength: 1 << 20) == body)
        #expect(PageSpool.read(path, start: 1_234_568, offset: 1001, maxLength: 1 << 20) == nil)
        #expect(PageSpool.read(path, start: 1_234_567, offset: 1, maxLength: 1 << 20) == nil)
        #expect(PageSpool.read(path, start: 1_234_567, offset: 1001, maxLength: Int64(body.count - 1)) == nil)
        // A shorter body written over a longer one: only the new length is read.
        try PageSpool.write(PageBody(Array("{}".utf8)), start: 7, offset: 2, to: path)
        #expect(PageSpool.read(path, start: 7, offset: 2, maxLength: 1 << 20) == Array("{}".utf8))
        // A symlink in the spool's place is never written through.
        let target = path + ".target"
        defer { unlink(target) }
        unlink(path)
        #expect(symlink(target, path) == 0)
        #expect(throws: DownloadFileError.self) { try PageSpool.write(PageBody(body), start: 0, offset: 1, to: path) }
        #expect(!FileManager.default.fileExists(atPath: target))
    }
}

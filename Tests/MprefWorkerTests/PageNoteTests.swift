import Foundation
import Testing

@testable import MprefWorker

/// The note's check of a page: any one changed byte, wherever it falls (each lane of the word-wise
/// hash and the bytes after the last whole block), and any change of length give another check.
struct PageNoteTests {
    @Test func everyChangedByteAndEveryLengthGivesAnotherCheck() {
        let page = (0..<75).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let original = page.withUnsafeBytes { PageNote.check($0) }
        for position in page.indices {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var edited = page
                edited[position] ^= flip
                #expect(edited.withUnsafeBytes { PageNote.check($0) } != original, "byte \(position) ^ \(flip)")
            }
        }
        // Two words swapped between lanes, a page cut short, one grown by a zero byte.
        var swapped = page
        swapped.swapAt(0, 8)
        #expect(swapped.withUnsafeBytes { PageNote.check($0) } != original)
        #expect(page.dropLast().withUnsafeBytes { PageNote.check($0) } != original)
        #expect((page + [0]).withUnsafeBytes { PageNote.check($0) } != original)
        #expect([UInt8]().withUnsafeBytes { PageNote.check($0) } != [0].withUnsafeBytes { PageNote.check($0) })
    }

    @Test func aNoteIsReadBackAsWrittenAndAnythingElseIsNoNote() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("note-\(UUID().uuidString)").path
        defer { unlink(path) }
        let note = PageNote(start: 1_234_567, length: 1_103_363, check: 0xDEAD_BEEF_0123_4567)
        try note.write(path)
        #expect(PageNote.read(path) == note)
        try "00000000000000000001 00000000000000000002 zz\n".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(PageNote.read(path) == nil)
    }
}

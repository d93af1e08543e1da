import Testing

@testable import MprefWorker

/// The bounded tail that hook stdout/stderr stream through, checked against a naive model.
@Suite("Hook output tail buffer")
struct HookProcessTailBufferTests {
    /// Chunk sizes below, at and above the capacity, so every copy path and the wrap-around run.
    @Test(arguments: [0, 1, 5, 8, 13])
    func keepsExactlyTheLastBytes(capacity: Int) {
        var tail = TailBuffer(capacity: capacity)
        var everything: [UInt8] = []
        var next: UInt8 = 0
        for chunkSize in [1, 3, 7, 8, 2, 20, 5, 9, 1, 1, 4, 13, 6] {
            let chunk = (0..<chunkSize).map { _ -> UInt8 in
                next &+= 1
                return next
            }
            tail.append(chunk)
            everything += chunk
            #expect(tail.bytes == Array(everything.suffix(capacity)))
            #expect(tail.totalBytes == Int64(everything.count))
        }
    }

    @Test func negativeCapacityKeepsNothingButCounts() {
        var tail = TailBuffer(capacity: -4)
        tail.append(Array("hello".utf8))
        #expect(tail.bytes.isEmpty)
        #expect(tail.text == "")
        #expect(tail.totalBytes == 5)
    }

    @Test func textDropsACharacterCutAtTheStart() {
        // "é" is C3 A9; a 4-byte tail of "xé€" (78 C3 A9 E2 82 AC) starts inside "é".
        var tail = TailBuffer(capacity: 4)
        tail.append(Array("xé€".utf8))
        #expect(tail.bytes == [0xA9, 0xE2, 0x82, 0xAC])
        #expect(tail.text == "€")
    }

    @Test func textKeepsAnUntruncatedStreamAsIs() {
        var tail = TailBuffer(capacity: 64)
        tail.append(Array("ünïcode\n".utf8))
        #expect(tail.text == "ünïcode\n")
        // Invalid bytes that were really written are shown, not hidden.
        var invalid = TailBuffer(capacity: 64)
        invalid.append([0x80, 0x41])
        #expect(invalid.text == "\u{FFFD}A")
    }
}

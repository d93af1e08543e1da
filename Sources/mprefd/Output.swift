import Foundation

/// Writing to stdout and stderr.
enum Output {
    /// A line on stdout.
    static func line(_ text: String) {
        print(text)
    }

    /// A line on stderr (notes such as `database: PATH`, and errors).
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// `value` as pretty-printed JSON on stdout, keys sorted.
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(0x0A)
        // Straight to stdout: no String copy of what can be tens of megabytes (`list --json`).
        fflush(nil)
        FileHandle.standardOutput.write(data)
    }
}

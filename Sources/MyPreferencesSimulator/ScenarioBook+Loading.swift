import Foundation

/// A scenario file that could not be read or decoded; the description names the file, the JSON path and the problem.
package struct ScenarioFileError: Error, CustomStringConvertible, Sendable {
    /// The file given.
    package var path: String
    /// What is wrong, e.g. `scenarios[0].steps[1]: unknown key 'Status' in a scenario step; allowed: …`.
    package var reason: String

    package var description: String { "invalid scenario file \(path): \(reason)" }
}

extension ScenarioBook {
    /// Reads a scenario file (the JSON form documented on ``ScenarioBook``).
    /// - Throws: ``ScenarioFileError`` when the file cannot be read or is not a valid book.
    package init(contentsOfFile path: String) throws(ScenarioFileError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ScenarioFileError(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        do {
            self = try JSONDecoder().decode(ScenarioBook.self, from: data)
        } catch {
            throw ScenarioFileError(path: path, reason: Self.describe(error))
        }
    }

    /// A one-line description of a decoding error with its JSON path, e.g. `scenarios[0].access_token: …`.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return String(describing: error) }
        func path(_ codingPath: [any CodingKey]) -> String {
            var text = ""
            for key in codingPath {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += (text.isEmpty ? "" : ".") + key.stringValue
                }
            }
            return text.isEmpty ? "top level" : text
        }
        switch error {
        case .dataCorrupted(let context):
            let underlying = context.underlyingError.map { " (\(($0 as NSError).localizedDescription))" } ?? ""
            return "\(path(context.codingPath)): \(context.debugDescription)\(underlying)"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])): missing key '\(key.stringValue)'"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(type), found null"
        @unknown default:
            return String(describing: error)
        }
    }
}

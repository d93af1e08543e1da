import MprefCore
import Foundation

/// The `AsyncApiDataExportStatusResult` resource as MyPreferences serialises it.
struct StatusDocument {
    enum MediaType {
        case json, xml

        var contentType: String {
            switch self {
            case .json: "application/json; charset=utf-8"
            case .xml: "application/xml; charset=utf-8"
            }
        }

        /// Picks the answer's media type from an `Accept` header: the acceptable type with the highest
        /// q-value among those MyPreferences offers (`application/json`, `text/json`,
        /// `application/json-patch+json`, `application/xml`, `text/xml`); JSON for `*/*`, none or anything else.
        static func negotiate(accept: String?) -> MediaType {
            guard let accept, !accept.isEmpty else { return .json }
            var best: (type: MediaType, q: Double)?
            for range in accept.split(separator: ",") {
                let parameters = range.split(separator: ";").map {
                    $0.trimmingCharacters(in: .whitespaces).lowercased()
                }
                guard let name = parameters.first else { continue }
                var q = 1.0
                for parameter in parameters.dropFirst() where parameter.hasPrefix("q=") {
                    q = Double(parameter.dropFirst(2)) ?? 0
                }
                let type: MediaType
                switch name {
                case "application/json", "text/json", "application/json-patch+json", "*/*", "application/*":
                    type = .json
                case "application/xml", "text/xml", "text/*": type = .xml
                default: continue
                }
                if q > 0, q > (best?.q ?? 0) { best = (type, q) }
            }
            return best?.type ?? .json
        }
    }

    var accessToken: Int64
    var status: String
    var rowCount: Int64
    var byteCount: Int64
    /// Present only in API/3 answers (`{clientId}/status/Token/{accessToken}`).
    var expires: String?

    /// `{"AccessToken":1,"Status":"Processing","RowCount":0,"ByteCount":0}` (+ `"Expires"` for API/3).
    var json: String {
        var text =
            "{\"AccessToken\":\(accessToken),\"Status\":\(Self.jsonString(status)),\"RowCount\":\(rowCount),\"ByteCount\":\(byteCount)"
        if let expires { text += ",\"Expires\":\(Self.jsonString(expires))" }
        return text + "}"
    }

    /// Data-contract XML: default namespace of the DataExportCore classes, `xmlns:i`, elements alphabetical.
    var xml: String {
        var text =
            "<AsyncApiDataExportStatusResult xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\" "
            + "xmlns=\"http://schemas.datacontract.org/2004/07/PossibleNow.Profiles.DataExportCore.Classes\">"
            + "<AccessToken>\(accessToken)</AccessToken><ByteCount>\(byteCount)</ByteCount>"
        if let expires { text += "<Expires>\(Self.xmlEscaped(expires))</Expires>" }
        return text
            + "<RowCount>\(rowCount)</RowCount><Status>\(Self.xmlEscaped(status))</Status></AsyncApiDataExportStatusResult>"
    }

    func body(for mediaType: MediaType) -> String {
        mediaType == .json ? json : xml
    }

    static func jsonString(_ value: String) -> String {
        JSONText.quoted(value)
    }

    static func xmlEscaped(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}

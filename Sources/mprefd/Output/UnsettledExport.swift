import MprefCore
import MprefStore

/// An export whose access token is unknown (`exports.state` `sending` or `unknown`), as `list` and `status` show it.
struct UnsettledExport: Encodable {
    var exportID: Int64
    var clientID: String
    var segment: String
    var state: ExportState
    var sentAt: String
    var error: String?
    /// A `sending` export whose `mprefd export` process still runs (its answer may still come).
    var beingSent: Bool
    var senderPID: Int32?

    enum CodingKeys: String, CodingKey {
        case exportID = "export_id", clientID = "client_id", segment, state, sentAt = "sent_at", error, beingSent =
            "being_sent"
    }

    init(_ export: ExportRecord) {
        exportID = export.id
        clientID = export.clientID
        segment = export.segment
        state = export.state
        sentAt = export.windowEnd
        error = export.error
        beingSent = ExportSender.isAlive(export)
        senderPID = export.senderPID
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(exportID, forKey: .exportID)
        try c.encode(clientID, forKey: .clientID)
        try c.encode(segment, forKey: .segment)
        try c.encode(state, forKey: .state)
        try c.encode(sentAt, forKey: .sentAt)
        try c.encode(error, forKey: .error)
        try c.encode(beingSent, forKey: .beingSent)
    }

    /// `export 3 of segment Newsletter (ACME_Co), sent …: initiated, token unknown (…); settle it: …`.
    var line: String {
        if beingSent {
            return
                "export \(exportID) of segment \(TerminalText.escaped(segment)) (\(clientID)), sent \(sentAt): being sent now by process \(senderPID.map(String.init) ?? "?")"
        }
        return
            "export \(exportID) of segment \(TerminalText.escaped(segment)) (\(clientID)), sent \(sentAt): initiated, token unknown"
            + (state == .sending ? " (its command ended before an answer was stored)" : "")
            + (error.map { " (\(TerminalText.escaped($0)))" } ?? "")
            + "; settle it: `mprefd export --resolve \(exportID) TOKEN` or `mprefd export --abandon \(exportID)`"
    }
}

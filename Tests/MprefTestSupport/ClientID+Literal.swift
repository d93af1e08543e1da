import MprefCore

/// Tests write client IDs as literals (`"ACME_Co"`). Only here, never in shipped code: a literal that
/// breaks ``ClientID/rule`` is a mistake in the test itself and stops it at once.
extension ClientID: ExpressibleByStringLiteral {
    package init(stringLiteral text: String) {
        guard let id = ClientID(text) else { preconditionFailure("not a client ID: \(text) (\(ClientID.rule))") }
        self = id
    }
}

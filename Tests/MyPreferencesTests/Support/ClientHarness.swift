import Foundation
import MprefTestSupport
import Logging
import MprefCore
@testable import MyPreferences

/// A loopback account for `server` with short timeouts; `edit` adjusts it.
func loopbackAccount(
    _ server: LoopbackServer, clientID: ClientID = "ACME_Co", edit: (inout AccountConfiguration) -> Void = { _ in }
) -> AccountConfiguration {
    var account = AccountConfiguration(
        clientID: clientID, baseURL: server.baseURL + "/Profiles",
        connectTimeout: .seconds(2), requestTimeout: .seconds(10)
    )
    edit(&account)
    return account
}

/// Runs `body` with a client for `configuration`, shutting the client down afterwards whatever happens.
func withClient<T: Sendable>(
    _ configuration: AccountConfiguration,
    now: @escaping @Sendable () -> Date = { Date() },
    _ body: (MyPreferencesClient) async throws -> T
) async throws -> T {
    let client = try MyPreferencesClient(configuration: configuration, logger: Logger(label: "mprefd.test"), now: now)
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// Runs `body` against a fresh loopback server, stopping it afterwards.
func withServer<T: Sendable>(
    _ handler: @escaping @Sendable (RecordedRequest) -> ServerReply,
    _ body: (LoopbackServer) async throws -> T
) async throws -> T {
    let server = try LoopbackServer(handler: handler)
    defer { server.stop() }
    return try await body(server)
}

let sampleStatusJSON = #"{"AccessToken": 42, "Status": "Complete", "RowCount": 10, "ByteCount": 2048}"#
/// The same answer without `AccessToken`, for servers that answer every access token alike
/// (an answer naming another token than the polled one is undecodable).
let anyTokenStatusJSON = #"{"Status": "Complete", "RowCount": 10, "ByteCount": 2048}"#

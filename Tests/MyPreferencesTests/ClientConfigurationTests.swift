import Foundation
import Logging
import MprefTestSupport
import Testing
@testable import MyPreferences
import MprefCore

@Suite("MyPreferencesClient configuration and URLs")
struct ClientConfigurationTests {
    static let logger = Logger(label: "mprefd.test")

    struct Refusal: Sendable, CustomTestStringConvertible {
        var name: String
        var account: AccountConfiguration
        var code: ClientConfigurationError.Code
        var field: String
        var mentions: [String]
        var testDescription: String { name }
    }

    static let refusals: [Refusal] = [
        Refusal(
            name: "http to a public host",
            account: AccountConfiguration(clientID: "A", baseURL: "http://pm.mypreferences.com/Profiles"),
            code: .insecureHTTP, field: "baseURL",
            mentions: ["http://pm.mypreferences.com/Profiles", "https://", "allowInsecureHTTP"]),
        Refusal(
            name: "http to a private address",
            account: AccountConfiguration(clientID: "A", baseURL: "HTTP://10.0.0.5:8080/"),
            code: .insecureHTTP, field: "baseURL", mentions: ["10.0.0.5"]),
        Refusal(
            name: "http to a look-alike of loopback",
            account: AccountConfiguration(clientID: "A", baseURL: "http://127.0.0.1.example.com/"),
            code: .insecureHTTP, field: "baseURL", mentions: ["127.0.0.1.example.com"]),
        Refusal(
            name: "http to localhost subdomain",
            account: AccountConfiguration(clientID: "A", baseURL: "http://evil.localhost.example/"),
            code: .insecureHTTP, field: "baseURL", mentions: []),
        Refusal(
            name: "ftp", account: AccountConfiguration(clientID: "A", baseURL: "ftp://pm.mypreferences.com/"),
            code: .invalidURL, field: "baseURL", mentions: ["ftp://"]),
        Refusal(
            name: "no host", account: AccountConfiguration(clientID: "A", baseURL: "https:///Profiles"),
            code: .invalidURL, field: "baseURL", mentions: []),
        Refusal(
            name: "relative", account: AccountConfiguration(clientID: "A", baseURL: "pm.mypreferences.com/Profiles"),
            code: .invalidURL, field: "baseURL", mentions: []),
        Refusal(
            name: "query in base URL",
            account: AccountConfiguration(clientID: "A", baseURL: "https://pm.mypreferences.com/?x=1"),
            code: .invalidURL, field: "baseURL", mentions: []),
        Refusal(
            name: "template without access token",
            account: AccountConfiguration(clientID: "A", statusPath: "Async/{clientId}/Status"),
            code: .invalidStatusPath, field: "statusPath", mentions: ["{accessToken}"]),
        Refusal(
            name: "zero request timeout", account: AccountConfiguration(clientID: "A", requestTimeout: .zero),
            code: .invalidValue, field: "requestTimeout", mentions: []),
        Refusal(
            name: "zero body limit", account: AccountConfiguration(clientID: "A", maxBodyBytes: 0),
            code: .invalidValue, field: "maxBodyBytes", mentions: []),
        Refusal(
            name: "http token URL to a public host",
            account: AccountConfiguration(
                clientID: "A",
                auth: .oauth(
                    tokenURL: "http://login.example.com/token", oauthClientID: "id",
                    oauthClientSecret: Secret("TOPSECRET"), userID: "u")),
            code: .insecureHTTP, field: "auth.tokenURL", mentions: ["http://login.example.com/token"]),
    ]

    @Test(arguments: refusals)
    func refusedAtInit(_ refusal: Refusal) async {
        do {
            let client = try MyPreferencesClient(configuration: refusal.account, logger: Self.logger)
            Issue.record("accepted \(refusal.account.baseURL)")
            try? await client.shutdown()
        } catch let error as ClientConfigurationError {
            #expect(error.code == refusal.code)
            #expect(error.field == refusal.field)
            for text in refusal.mentions { #expect(error.description.contains(text), "\(error.description)") }
            #expect(!error.description.contains("TOPSECRET"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test(arguments: [
        "http://127.0.0.1:9/Profiles", "http://127.255.0.3/", "http://localhost:8080", "http://LOCALHOST/",
        "http://[::1]:8080/x",
        "http://[0:0:0:0:0:0:0:1]/", "https://pm.mypreferences.com/Profiles",
        "https://pmstg.mypreferences.com/Profiles/",
    ])
    func accepted(baseURL: String) async throws {
        let client = try MyPreferencesClient(
            configuration: AccountConfiguration(clientID: "A", baseURL: baseURL), logger: Self.logger)
        try await client.shutdown()
    }

    @Test func insecureHTTPAllowedWhenAskedFor() async throws {
        let account = AccountConfiguration(
            clientID: "A", baseURL: "http://pm.example.com/Profiles", allowInsecureHTTP: true)
        let client = try MyPreferencesClient(configuration: account, logger: Self.logger)
        try await client.shutdown()
    }

    @Test func loopbackRecognition() {
        for host in ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1", "localhost."] {
            #expect(StatusURL.isLoopback(host: host), "\(host)")
        }
        for host in [
            "128.0.0.1", "10.0.0.1", "::2", "::ffff:7f00:1x", "localhost.example", "127.0.0.1.nip.io", "", "0.0.0.0",
        ] {
            #expect(!StatusURL.isLoopback(host: host), "\(host)")
        }
    }

    struct PathCase: Sendable, CustomTestStringConvertible {
        var baseURL: String
        var template: String
        var clientID: String
        var accessToken: AccessToken
        var expected: String
        var testDescription: String { "\(baseURL) + \(template) [\(clientID)]" }
    }

    static let paths: [PathCase] = [
        PathCase(
            baseURL: "https://pm.mypreferences.com/Profiles", template: AccountConfiguration.defaultStatusPath,
            clientID: "ACME_Co",
            accessToken: 42, expected: "https://pm.mypreferences.com/Profiles/Async/ACME_Co/Export/42/Status"),
        PathCase(
            baseURL: "https://pm.mypreferences.com/Profiles//", template: "//{clientId}/status/Token/{accessToken}",
            clientID: "ACME_Co",
            accessToken: 9_223_372_036_854_775_807,
            expected: "https://pm.mypreferences.com/Profiles/ACME_Co/status/Token/9223372036854775807"),
        PathCase(
            baseURL: "https://h/p/", template: "{clientId}/status/Token/{accessToken}",
            clientID: "ACME Co/Ünï?#%{accessToken}",
            accessToken: -3, expected: "https://h/p/ACME%20Co%2F%C3%9Cn%C3%AF%3F%23%25%7BaccessToken%7D/status/Token/-3"
        ),
        PathCase(
            baseURL: "https://h", template: "Async/{clientId}/Export/{accessToken}/Status", clientID: "..",
            accessToken: 1, expected: "https://h/Async/%2E%2E/Export/1/Status"),
        PathCase(
            baseURL: "https://h", template: "Async/{clientId}/Export/{accessToken}/Status", clientID: "a.b-c_d~e",
            accessToken: 0, expected: "https://h/Async/a.b-c_d~e/Export/0/Status"),
    ]

    @Test(arguments: paths)
    func statusURL(_ path: PathCase) {
        #expect(
            StatusURL.make(
                baseURL: path.baseURL, template: path.template, clientID: path.clientID,
                accessToken: path.accessToken)
                == path.expected)
    }

    /// An odd client ID (a space, a slash, `..`, `;`) cannot be configured at all: it is no `ClientID`.
    /// Every character one may have reaches the server as it is (the encoding of any other text is
    /// checked in `statusURL`, as a second line of defence).
    @Test func clientIDsReachTheServerAsTheyAre() async throws {
        for odd in ["ACME Co/Ünï?#%", "..", "a;b=c&d"] { #expect(ClientID(odd) == nil, "\(odd)") }
        try await withServer({ _ in .json(sampleStatusJSON) }) { server in
            for (clientID, expected) in [
                ("a.b-c_d", "/Profiles/a.b-c_d/status/Token/42"),
                ("ACME_Co", "/Profiles/ACME_Co/status/Token/42"),
            ] {
                let account = loopbackAccount(server, clientID: try #require(ClientID(clientID))) {
                    $0.baseURL += "/"
                    $0.statusPath = "/{clientId}/status/Token/{accessToken}"
                }
                let result = try await withClient(account) { await $0.status(of: 42) }
                #expect(result.outcome.kind.rawValue == "ok")
                #expect(server.requests.last?.target == expected)
            }
        }
    }

    @Test func secretsNeverPrint() {
        let account = AccountConfiguration(
            clientID: "A",
            auth: .oauth(
                tokenURL: "https://login.example.com/token", oauthClientID: "id",
                oauthClientSecret: Secret("TOPSECRET"), userID: "u")
        )
        var dumped = ""
        dump(account, to: &dumped)
        for text in [String(describing: account), String(reflecting: account), dumped, "\(account.auth)"] {
            #expect(!text.contains("TOPSECRET"))
        }
    }
}

import Foundation
import MprefCore
import Testing

/// Issue 13 §1: a token's row id, an access token and a client ID are three types, each checked once
/// where it enters and printed/encoded exactly as the plain value was.
@Suite struct IdentifierTests {
    /// The client IDs the CLI and the configuration file refuse today (AdminCommandTests, the config
    /// file's account keys), and the edges of the rule.
    @Test(arguments: [
        "", "a/b", "..", ".", "x y", "a\\b", "é", "a\u{0}b", "ACME_Co\n", String(repeating: "a", count: 129),
    ])
    func clientIDsBreakingTheRuleAreRefused(_ text: String) throws {
        #expect(ClientID(text) == nil)
        #expect(!ClientID.isValid(text))
        let json = try JSONEncoder().encode([text])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([ClientID].self, from: json) }
    }

    @Test(arguments: ["ACME_Co", "a", "a.b-c_9", "...", ".a", String(repeating: "Z", count: 128)])
    func clientIDsFollowingTheRuleAreKeptAsTheyAre(_ text: String) throws {
        let id = try #require(ClientID(text))
        #expect(id.value == text && id.description == text && "\(id)" == text)
        #expect(try JSONEncoder().encode(id) == JSONEncoder().encode(text))
        #expect(try JSONDecoder().decode(ClientID.self, from: JSONEncoder().encode(text)) == id)
    }

    /// The access tokens the CLI refuses today (AdminCommandTests): not digits only, zero, beyond Int64.
    @Test(arguments: ["", "0", "00", "12a", "-5", "+5", " 5", "5 ", "x", "1e3", "9223372036854775808", "٣"])
    func accessTokensBreakingTheRuleAreRefused(_ text: String) {
        #expect(AccessToken(digits: text) == nil)
    }

    @Test func accessTokensPrintAndEncodeAsTheBareInteger() throws {
        for value: Int64 in [1, 7, 123_456, 1_000_000_007, .max] {
            let token = AccessToken(value)
            #expect(token.description == String(value) && "\(token)" == String(value))
            #expect(AccessToken(digits: token.description) == token)
            #expect(try JSONEncoder().encode(token) == JSONEncoder().encode(value))
            #expect(try JSONDecoder().decode(AccessToken.self, from: JSONEncoder().encode(value)) == token)
            let id = TokenID(value)
            #expect(id.description == String(value) && "\(id)" == String(value))
            #expect(try JSONEncoder().encode(id) == JSONEncoder().encode(value))
            #expect(try JSONDecoder().decode(TokenID.self, from: JSONEncoder().encode(value)) == id)
        }
        #expect(AccessToken(digits: "007") == AccessToken(7))
        // Optional and collection interpolation (log lines, messages) read as they did with Int64.
        let some: AccessToken? = AccessToken(42)
        #expect("\(String(describing: some))" == "\(String(describing: Int64?(42)))")
        #expect("\([TokenID(1), TokenID(2)])" == "\([Int64(1), 2])")
        #expect(AccessToken(2) < AccessToken(10) && TokenID(2) < TokenID(10))
        #expect(ClientID("B").flatMap { b in ClientID("a").map { b < $0 } } == true)
    }

    @Test func aNonIntegerJSONValueIsADecodingErrorNotATrap() throws {
        for json in ["\"12\"", "1.5", "1e30", "null", "9223372036854775808"] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(AccessToken.self, from: Data(json.utf8)) }
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(TokenID.self, from: Data(json.utf8)) }
        }
    }
}

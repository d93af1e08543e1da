import MprefCore
import ArgumentParser
import Foundation
import Logging
import MprefStore
import MyPreferences

/// `mprefd check-config --probe`: one real status request per account, to learn before the daemon
/// runs whether the account's host is reachable, its credentials are accepted and its `base_url` /
/// `status_path` lead to the status resource.
///
/// The access token asked for is `--probe-token`, else the newest token of that client ID in the
/// database (when there is one), else `1`. Only an answer for a token the database knows can prove
/// the path: a `404` for token `1` is expected even on a correct path, so it is reported as
/// "reachable, path not verified".
enum AccountProbe {
    /// What one probe came to.
    struct Verdict: Encodable, Equatable {
        enum Result: String, Encodable {
            /// Reachable, credentials accepted, the path answers.
            case ok
            /// Reachable and accepted as far as can be told (a 404 for an unknown token, a 503).
            case unverified
            /// The host cannot be reached (connect, TLS, timeout): exit 69.
            case unreachable
            /// Credentials refused, or a 404 for a token the database watches: exit 78.
            case misconfigured
        }

        var clientID: ClientID
        var accessToken: AccessToken
        var result: Result
        var httpStatus: Int?
        var detail: String

        enum CodingKeys: String, CodingKey {
            case result, detail
            case clientID = "client_id"
            case accessToken = "access_token"
            case httpStatus = "http_status"
        }

        /// One line for the terminal.
        var line: String { "probe \(clientID): \(result.rawValue) — \(TerminalText.escaped(detail))" }
    }

    /// Judges one status answer (pure). `tokenIsKnown`: the access token came from the database or
    /// the operator, so a 404 means the path is wrong rather than the export unknown.
    static func judge(clientID: ClientID, accessToken: AccessToken, tokenIsKnown: Bool, result: PollResult) -> Verdict {
        let code = result.httpStatus
        let http = code.map { "HTTP \($0)" } ?? "no answer"
        func verdict(_ r: Verdict.Result, _ detail: String) -> Verdict {
            Verdict(clientID: clientID, accessToken: accessToken, result: r, httpStatus: code, detail: detail)
        }
        switch result.outcome {
        case .ok(let status):
            return verdict(
                .ok,
                "\(http) for access token \(accessToken) (Status \(status.status)): reachable, credentials accepted")
        case .undecodable(let reason, _):
            return verdict(
                .misconfigured,
                "\(http) for access token \(accessToken), but the body is not a status answer (\(reason)): check base_url and status_path"
            )
        case .notFound where tokenIsKnown:
            return verdict(
                .misconfigured,
                "\(http) for access token \(accessToken), which this database watches: base_url or status_path is wrong"
            )
        case .notFound:
            return verdict(
                .unverified,
                "\(http) for access token \(accessToken) (no such export): reachable and accepted; pass --probe-token with a real access token to verify the path"
            )
        case .unauthorized, .forbidden:
            return verdict(
                .misconfigured, "\(http): the credentials were refused; check the account's auth settings and secret")
        case .badRequest(let detail):
            return verdict(
                .misconfigured,
                "\(http): the request was refused as malformed (\(detail)); check base_url and status_path")
        case .unavailable, .serverError:
            return verdict(.unverified, "\(http): the host answers but is unavailable now; try again later")
        case .unexpectedStatus:
            return verdict(
                .misconfigured,
                "\(http): not an answer of the status resource (a redirect or another service?); check base_url")
        case .transportError(let failure, let detail):
            return verdict(.unreachable, "cannot reach \(clientID)'s host (\(failure.rawValue)): \(detail)")
        }
    }

    /// Probes every account, one request each, at most four at a time.
    static func run(_ configuration: MprefdConfiguration, database: AdminStore?, probeToken: AccessToken?) async
        -> [Verdict]
    {
        let logger = { () -> Logger in
            var quiet = Logger(label: "mprefd.probe")
            quiet.logLevel = .critical
            return quiet
        }()
        let accounts = configuration.accounts.sorted { $0.key < $1.key }
        return await withTaskGroup(of: Verdict.self) { group in
            for (clientID, account) in accounts {
                let known = probeToken ?? (try? database?.newestAccessToken(clientID: clientID)) ?? nil
                let token = known ?? 1
                group.addTask {
                    do {
                        let client = try MyPreferencesClient(configuration: account, logger: logger)
                        let result = await client.status(of: token)
                        try? await client.shutdown()
                        return judge(clientID: clientID, accessToken: token, tokenIsKnown: known != nil, result: result)
                    } catch {
                        return Verdict(
                            clientID: clientID, accessToken: token, result: .misconfigured, httpStatus: nil,
                            detail: "\(error)")
                    }
                }
            }
            var verdicts: [Verdict] = []
            for await verdict in group { verdicts.append(verdict) }
            return verdicts.sorted { $0.clientID < $1.clientID }
        }
    }

    /// The exit code for a set of verdicts: 78 when any account is misconfigured, else 69 when any is
    /// unreachable, else 0.
    static func exitCode(_ verdicts: [Verdict]) -> ExitCode {
        if verdicts.contains(where: { $0.result == .misconfigured }) { return ExitCode.configuration }
        if verdicts.contains(where: { $0.result == .unreachable }) { return ExitCode.unavailable }
        return ExitCode.success
    }
}

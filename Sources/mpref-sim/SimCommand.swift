import ArgumentParser
import Foundation
import Logging
import MyPreferencesSimulator

/// `mpref-sim`: runs the MyPreferences simulator until SIGTERM/SIGINT (then exits 0).
@main
struct SimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mpref-sim",
        abstract:
            "A faithful fake of the PossibleNOW MyPreferences async-export API, for tests, benchmarks and the demo.",
        discussion: """
            Serves, under --prefix (default /Profiles):
              GET  {prefix}/Async/{clientId}/Export/{accessToken}/Status
                   status, JSON (or XML when Accept asks for application/xml)
              GET  {prefix}/{clientId}/status/Token/{accessToken}
                   API/3 form of the same; adds Expires
              POST {prefix}/Async/{clientId}/Export/Segment/{segmentName}
                   initiate an export of a segment (SEGMENTS below):
                   {"AccessToken": N}, N increasing
              GET  {prefix}/Async/{clientId}/Export/Segment/{accessToken}
                     ?limit=1000&offset=1&keepAlive=false
                   one page once the token has answered Complete:
                   {"Count":n,"HasMore":b,"Limit":l,"Offset":o,"TotalResults":t,
                    "UserProfilePreferences":[...]}; records offset..offset+limit-1
                   (1-based), generated deterministically; RowCount records.
                   Without keepAlive=true the page holding the last record
                   retrieves the export (status polls then say Retrieved and
                   retrieves get 404); with it only the commit does.
              POST {prefix}/Async/{clientId}/Export/Segment/Commit/{accessToken}
                     ?keepFiles=false
                   commit: {"Message":"Committed."}
                   (API/3 forms: {clientId}/export/Segment/{segmentName} (POST),
                    {clientId}/export/Segment/{accessToken} and
                    {clientId}/export/Segment/Commit/{accessToken})
              POST {prefix}/oauth/token   OAuth client credentials
              GET /_sim/health  GET /_sim/requests
              GET /_sim/initiations
                   [{"client_id","segment","access_token","last_date_time",
                     "callback_url","match_criteria","received_at","ready_at",
                     "answered","records"}, ...]: every export an initiate
                   created; ready_at = when it becomes Complete
              POST /_sim/scenarios (scenario file body)  POST /_sim/reset
              GET /_sim/exports/{clientId}/{accessToken}
                   {"records":R,"bytes":B,"sha256":"...","retrieved":b,
                    "committed":b,"keep_files":b|null,"pages_served":n,
                    "phase":"..."} of the canonical file (records + "\\n")
            Once listening it prints "mpref-sim listening on http://HOST:PORT/Profiles"
            and writes PORT to --port-file. SIGTERM or SIGINT: clean exit 0.

            SCENARIO FILE (--scenarios; also the body of POST /_sim/scenarios)
            {
              "default": [ {"status": "Processing", "repeat": 3},
                           {"status": "Complete", "row_count": 1000,
                            "byte_count": 123456} ],
              "scenarios": [
                {"access_token": 42, "steps": [
                  {"http": 404, "repeat": 2},
                  {"unavailable": {"retry_after_s": 3, "form": "http-date"}},
                  {"status": "Processing", "delay_ms": 250},
                  {"status": "Complete", "row_count": 7, "byte_count": 99} ]},
                {"client_id": "ACME_Co", "access_token": 43, "steps": [
                  {"drop": true},
                  {"raw": {"code": 200, "content_type": "application/json",
                           "body": "{\\"Acc"}},
                  {"status": "Failed"} ]}
              ],
              "host_unavailable": [
                {"from_s": 5, "to_s": 10, "retry_after_s": 3, "form": "seconds"} ],
              "segments": [
                {"name": "Newsletter", "client_id": "ACME_Co", "records": 12000,
                 "processing_s": 3, "changes_per_s": 2, "history_s": 86400,
                 "seed": 7, "initiate_faults": [ {"delay_s": 2} ]} ]
            }
            A scenario is a list of steps, one answer per poll of that token.
            Each step has exactly one of:
              status       200 status document; optional row_count, byte_count
                           (64-bit), expires (shown in API/3 answers only)
              http         that status code: 404, or {"code": 404, "body": "..."}
              unavailable  503; optional retry_after_s, written as delta-seconds
                           ("form": "seconds", default) or as an IMF-fixdate of
                           now + retry_after_s ("form": "http-date"); optional body
              drop         true: close the connection without any response
              raw          {"code": 200, "content_type": "...", "body": "..."}
            plus optional "repeat" (default 1) and "delay_ms" (wait first).
            The last step repeats forever. A token's progress advances only when
            that token is polled. An entry with client_id applies to that client
            ID only and wins over one without. Tokens without an entry follow
            "default" (built in: Processing for 3 polls, then Complete with
            1000 rows and 123456 bytes). During a host_unavailable window
            (seconds since start; since the POST for /_sim/scenarios) every API
            request gets 503. Unknown keys are errors.

            EXPORT DOWNLOAD (an "export" object beside "steps" in a scenarios
            entry; for "default": {"steps": [...], "export": {...}})
              {"seed": 0, "lowercase_keys": false,
               "records_key": "UserProfilePreferences",   (or "Preferences")
               "expire_after_pages": 3,
               "pages": [ {"offset": 1001, "fault": "unavailable",
                           "retry_after_s": 1, "times": 2} ]}
            A page fault applies to the page request with that offset, "times"
            times (default 1). Faults: unavailable (503, optional retry_after_s,
            form), server_error (500), http ("code", optional "body"), drop,
            reset (head + "after_bytes" of the body, default half, then close),
            slow ("delay_ms", optional "chunks", default 20), short (one record
            fewer than Count), wrong_total (TotalResults + 1). After
            expire_after_pages pages served the export's status is Expired and
            retrieves get 404.

            SEGMENTS (what initiate can export; "segments" in the scenario file)
              name             matched exactly (case-sensitive) against the path
              client_id        optional; absent: every client ID has it
              records          the base population (required, 0 to 10^12)
              processing_s     seconds until Complete (fractions allowed; default
                               0), or instead "duration": {"median_s": 900,
                               "sigma": 0.3}, log-normal, seeded by seed + token
              changes_per_s    new changes per second after loading (default 0)
              history_s        base records' change times spread over this many
                               seconds before loading (default 86400)
              seed             mixed into the records and the duration (default 0)
              initiate_faults  one per initiate, in order:
                                 {"drop": true}     create, close without answer
                                 {"delay_s": 1.5}   create, answer that much later
                                 {"unavailable": {"retry_after_s": 2}}  503, none
                                 {"http": 500, "creates": true}  that code; create
                                                    only when creates is true
              export           download options as above (no seed)
              callback_delay_s seconds after Complete until the CallbackURL
                               POST (0..3600; default 0.5)
              callback_failure_rate  0..1: share of exports whose callback
                               is never sent (seeded per export); default 0
            Base record i changed at start - history_s + i*history_s/records,
            new change k at start + k/changes_per_s (start: server start, or
            the POST that set the entry; whole milliseconds). An initiate at T
            exports, in change order, the records changed in [L', T): L' is the
            body's LastDateTime (YYYY-MM-DDTHH:mm:ss.sssZ; no Z means UTC)
            rounded up as the vendor documents (last millisecond digit 0-2 ->
            3, 3-6 -> 7, 7-9 -> next 10 ms); without it, all before T.
            "MatchCriteria": "ProfileId" with "Values" keeps only those profiles;
            other criteria are accepted and do not filter. With a CallbackURL
            the export's status JSON ({"AccessToken":N,"Status":"Complete",
            "RowCount":R,"ByteCount":B}) is POSTed there once, callback_delay_s
            after Complete (GET /_sim/callbacks lists them). Each record's
            ModifiedDate is its change time. Status: Processing (counts 0)
            until the duration has passed, then Complete with RowCount and
            ByteCount of the export; download and commit as above. A token's
            own scenario wins. Body errors: 400; unknown client ID (no entry
            names it, none without client_id): 404; unknown segment:
            400 {"Message":"Segment 'X' was not found"}. With no segments at
            all, initiate hands out a token for any name, as scenarios alone.

            AUTH (--auth)
              none         accept every request
              pnauthinfo3  Authorization: PNAUTHINFO3-HMAC-SHA256
                             Credential={UserId}/{IssuedTimestamp} Signature={sig}
                           sig = base64(HMAC-SHA256(secret,
                                   "{ClientId}:{UserId}:{IssuedTimestamp}"))
                           timestamp ISO 8601 UTC, at most 15 min old, not in
                           the future; users from --user ID=SECRET
              oauth        Authorization: Bearer <token from the token endpoint>;
                           clients from --oauth-client ID=SECRET
            Failed authentication: 401 {"Message": "...", "Reason": "..."}.
            """
    )

    enum AuthMode: String, ExpressibleByArgument, CaseIterable {
        case none, pnauthinfo3, oauth
    }

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind; 0 picks a free one.")
    var port = 0

    @Option(help: "API path prefix.")
    var prefix = "/Profiles"

    @Option(help: ArgumentHelp("Scenario file (JSON; format above).", valueName: "file.json"))
    var scenarios: String?

    @Option(
        name: .customLong("port-file"),
        help: ArgumentHelp("Write the bound port here (atomically) once listening.", valueName: "path"))
    var portFile: String?

    @Option(
        name: .customLong("request-log"),
        help: ArgumentHelp("Append each request as a JSON line to this file.", valueName: "path"))
    var requestLog: String?

    @Option(help: "Authentication mode: none, pnauthinfo3 or oauth.")
    var auth: AuthMode = .none

    @Option(name: .customLong("user"), help: ArgumentHelp("A PNAUTHINFO3 user (repeatable).", valueName: "ID=SECRET"))
    var users: [String] = []

    @Option(
        name: .customLong("oauth-client"), help: ArgumentHelp("An OAuth client (repeatable).", valueName: "ID=SECRET"))
    var oauthClients: [String] = []

    @Option(
        name: .customLong("token-lifetime"),
        help: ArgumentHelp("OAuth token lifetime in seconds.", valueName: "seconds"))
    var tokenLifetime = 3600

    @Option(
        name: .customLong("oauth-token-path"),
        help: ArgumentHelp("OAuth token endpoint path (default {prefix}/oauth/token).", valueName: "path"))
    var oauthTokenPath: String?

    @Option(name: .customLong("first-access-token"), help: "First access token handed out by the initiate endpoint.")
    var firstAccessToken: Int64 = 1

    @Flag(name: .customLong("no-record"), help: "Do not record requests (for benchmarks).")
    var noRecord = false

    @Option(name: .customLong("log-level"), help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "notice"

    /// One-line usage errors (exit 64) instead of the multi-line usage dump; help and version as usual.
    static func main() async {
        let parsed: any ParsableCommand
        do {
            parsed = try parseAsRoot()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }
            let message = message(for: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            FileHandle.standardError.write(Data("mpref-sim: error: \(message)\n".utf8))
            Foundation.exit(64)
        }
        guard let command = parsed as? SimCommand else {
            // --help and friends parse into ArgumentParser's own commands, which print and exit.
            var builtIn = parsed
            do {
                try builtIn.run()
                exit(withError: nil)
            } catch {
                exit(withError: error)
            }
        }
        do {
            try await command.run()
        } catch {
            FileHandle.standardError.write(Data("mpref-sim: error: \(error)\n".utf8))
            Foundation.exit(70)  // EX_SOFTWARE: failed after valid arguments (e.g. address in use)
        }
    }

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port \(port) is not in 0…65535") }
        guard prefix.isEmpty || prefix.hasPrefix("/") else {
            throw ValidationError("--prefix '\(prefix)' must start with '/'")
        }
        guard tokenLifetime > 0 else { throw ValidationError("--token-lifetime \(tokenLifetime) must be positive") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level '\(logLevel)' is not a log level")
        }
        if let oauthTokenPath, !oauthTokenPath.hasPrefix("/") {
            throw ValidationError("--oauth-token-path '\(oauthTokenPath)' must start with '/'")
        }
        _ = try Self.pairs(users, option: "--user")
        _ = try Self.pairs(oauthClients, option: "--oauth-client")
        if auth == .pnauthinfo3, users.isEmpty {
            throw ValidationError("--auth pnauthinfo3 needs at least one --user ID=SECRET")
        }
        if auth == .oauth, oauthClients.isEmpty {
            throw ValidationError("--auth oauth needs at least one --oauth-client ID=SECRET")
        }
        if let scenarios {
            do {
                _ = try ScenarioBook(contentsOfFile: scenarios)
            } catch {
                throw ValidationError("--scenarios: \(error.description)")
            }
        }
    }

    /// Splits `ID=SECRET` values; the error names the ID (never the secret).
    static func pairs(_ values: [String], option: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for value in values {
            guard let equals = value.firstIndex(of: "="), equals != value.startIndex else {
                let shown = value.contains("=") ? "(empty ID)" : "'\(value)'"
                throw ValidationError("\(option) \(shown) is not ID=SECRET")
            }
            let id = String(value[..<equals])
            guard equals != value.index(before: value.endIndex) else {
                throw ValidationError("\(option) '\(id)=' has an empty secret")
            }
            guard result[id] == nil else { throw ValidationError("\(option) '\(id)' is given twice") }
            result[id] = String(value[value.index(after: equals)...])
        }
        return result
    }

    func run() async throws {
        var logger = Logger(label: "mpref-sim")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .notice

        let simulatorAuth: SimulatorAuth =
            switch auth {
            case .none: .none
            case .pnauthinfo3: .pnauthinfo3(users: try Self.pairs(users, option: "--user"))
            case .oauth:
                .oauth(
                    clients: try Self.pairs(oauthClients, option: "--oauth-client"),
                    tokenLifetime: .seconds(tokenLifetime))
            }
        let configuration = SimulatorConfiguration(
            host: host,
            port: port,
            pathPrefix: prefix,
            auth: simulatorAuth,
            oauthTokenPath: oauthTokenPath,
            scenarios: try scenarios.map { try ScenarioBook(contentsOfFile: $0) } ?? ScenarioBook(),
            firstAccessToken: firstAccessToken,
            recordsRequests: !noRecord,
            requestLogPath: requestLog,
            stopsOnTerminationSignals: true
        )
        let simulator = try await MyPreferencesSimulator.start(configuration, logger: logger)
        if let portFile {
            do {
                try Data("\(simulator.port)\n".utf8).write(to: URL(fileURLWithPath: portFile), options: .atomic)
            } catch {
                await simulator.stop()
                throw ValidationError("cannot write --port-file \(portFile): \(error.localizedDescription)")
            }
        }
        print("mpref-sim listening on \(simulator.baseURL)")
        fflush(nil)
        try await simulator.waitUntilStopped()
        logger.notice("mpref-sim stopped")
    }
}

import ArgumentParser
import Foundation
import Logging
import MprefCore
import MprefStore
import MprefWorker
import MyPreferences

/// `mprefd export SEGMENT`: start an export of a segment and watch its access token.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Start an export of a segment (a full or incremental window) and watch its access token.",
        discussion: """
            Sends the initiate request (accounts.<ID>.initiate_path, default \
            Async/{clientId}/Export/Segment/{segmentName}) and watches the answer's access token \
            exactly as add-token would; prints the token (or, with --json, one object) so a script \
            can `mprefd wait` on it. Works while the daemon runs; the daemon polls the new token.

            Durable: the attempt is recorded before the request is sent and the token in the same \
            transaction as the answer. If the answer is lost (a timeout, a reset, a 5xx, a crash or \
            kill in between) the export may have started on the server: it is shown by `list` and \
            `status` as "token unknown", this command exits 5, and further exports of that segment \
            are refused until an operator settles it — `mprefd export --resolve ID TOKEN` (the \
            token found in MyPreferences) or `mprefd export --abandon ID`. The request is only sent \
            again when the server cannot have started an export: no connection, or 503/429 \
            (Retry-After honoured, up to 60 s; 5 attempts in all).

            Windows: --since TIME exports only records changed since TIME. --incremental starts \
            where the segment's last delivered export (download committed, or complete with \
            download off) started, minus --overlap; without such an export it is a full export \
            (or starts at --since when given). The window ends when the request is sent. The \
            LastDateTime sent is the window start moved back to the previous x9 ms (the vendor \
            rounds milliseconds up to 3/7/0, so a start sent as is could skip records). Hooks get \
            MPREFD_SEGMENT, MPREFD_WINDOW_START and MPREFD_WINDOW_END; `mprefd cursors` shows each \
            segment's position.

            Callbacks: with callbacks.listen and callbacks.public_url configured, the request \
            carries CallbackURL = <callbacks.public_url>/<id> (a random 128-bit id stored in \
            exports.callback_id); when MyPreferences POSTs there, the running daemon polls the \
            token at once instead of waiting for its next backoff. Until then the export is \
            polled only by a sparse safety net (callbacks.safety_interval_s, for a lost callback).

            TIME: 2026-12-01T06:00:00Z (UTC; milliseconds allowed), 2026-12-01 (midnight UTC), or \
            a duration before now (36h, 2d). DURATION: 90s, 45m, 36h, 2d, 1h30m.

            Exit codes: 0 started · 1 404 (client ID or segment unknown to the server); \
            --resolve/--abandon of an export that is settled · 5 the outcome is unknown, or an \
            earlier export of the segment's is (resolve it) · 64 a bad argument, or the server \
            refused the request (400, other 4xx, a redirect) · 65 a database row that cannot be \
            used (a cursor that is not a time) · 69 the server stayed unavailable (503, no \
            connection) · 75 database locked, or another `mprefd export` of the segment is being \
            sent right now · 78 configuration (no account), 401/403. With --json, a refused or \
            unknown export still prints its object (with its export_id) before the error.

            Examples:
              mprefd export Newsletter --client-id ACME_Co
              mprefd export Newsletter --incremental --overlap 5m --json
              token=$(mprefd export Contacts --since 2d) && mprefd wait "$token"
              mprefd export Newsletter --match-criteria EmailAddress --values a@example.com b@example.com
              mprefd export Newsletter --match-criteria ProfileId --values-from ids.txt
              mprefd export --resolve 12 4711
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The segment to export (as named in MyPreferences).", valueName: "segment"))
    var segment: String?

    @Option(
        name: .customLong("client-id"),
        help: ArgumentHelp("The MyPreferences client ID (optional with one account configured).", valueName: "id"),
        transform: ClientID.parseArgument)
    var clientID: ClientID?

    @Option(
        help: ArgumentHelp(
            "Only records changed since TIME (an incremental export); with --incremental, used when the segment has no cursor yet.",
            valueName: "time"))
    var since: String?

    @Flag(help: "Start where the segment's last delivered export started (its cursor), minus --overlap.")
    var incremental = false

    @Option(
        help: ArgumentHelp("With --incremental: start this much before the cursor (default 0).", valueName: "duration"),
        transform: DurationArgument.parseAllowingZero)
    var overlap: DurationArgument?

    @Option(
        name: .customLong("match-criteria"),
        help: ArgumentHelp(
            "Restrict the export to given profiles: ProfileId, AlternateId, PhoneNumber or EmailAddress (needs --values).",
            valueName: "kind"),
        transform: ExportRequest.MatchCriteria.parseArgument)
    var matchCriteria: ExportRequest.MatchCriteria?

    @Option(
        name: .customLong("values"), parsing: .upToNextOption,
        help: ArgumentHelp("The values to match (with --match-criteria).", valueName: "value"))
    var values: [String] = []

    @Option(
        name: .customLong("values-from"),
        help: ArgumentHelp(
            "Read the values to match from FILE, one per line (- = standard input; blank lines and lines starting with # are skipped): for long lists, which the command line parses slowly.",
            valueName: "file"))
    var valuesFrom: String?

    @Option(
        name: .customLong("match-type"),
        help: ArgumentHelp("The MatchType (required by the vendor with AlternateId).", valueName: "type"))
    var matchType: String?

    @OptionGroup(title: "Watching") var watch: WatchOptions

    @Option(
        help: ArgumentHelp(
            "Settle an export whose outcome is unknown: watch TOKEN (found in MyPreferences) for export ID.",
            valueName: "id"))
    var resolve: Int64?

    @Option(
        help: ArgumentHelp("Settle an export whose outcome is unknown: there is nothing to watch.", valueName: "id"))
    var abandon: Int64?

    @Flag(
        help:
            "Print one JSON object {export_id, client_id, segment, state, access_token, window_start, window_end, last_date_time, result}."
    )
    var json = false

    func validate() throws {
        if resolve != nil || abandon != nil {
            guard resolve == nil || abandon == nil else {
                throw ValidationError("--resolve and --abandon are exclusive")
            }
            let windowOrMatch =
                since != nil || incremental || overlap != nil || matchCriteria != nil || !values.isEmpty
                || valuesFrom != nil || matchType != nil || clientID != nil
            let watching =
                watch.label != nil || watch.deadline != nil || !watch.tokenHooksGiven.isEmpty || watch.noGlobalHooks
                || watch.download != nil
            if windowOrMatch || watching {
                throw ValidationError(
                    "--resolve and --abandon take only the export's id (and the token): the export keeps the options it was started with"
                )
            }
            if abandon != nil, segment != nil { throw ValidationError("--abandon ID takes no segment") }
            if resolve != nil, segment == nil { throw ValidationError("--resolve ID TOKEN: give the access token") }
            return
        }
        guard segment != nil else {
            throw ValidationError("name the segment to export, e.g. `mprefd export Newsletter`")
        }
        if overlap != nil, !incremental { throw ValidationError("--overlap goes with --incremental") }
        if matchCriteria == nil, !values.isEmpty || valuesFrom != nil || matchType != nil {
            throw ValidationError("--values, --values-from and --match-type go with --match-criteria")
        }
        if !values.isEmpty, valuesFrom != nil {
            throw ValidationError("give the values with --values or with --values-from, not both")
        }
        if matchCriteria != nil, values.isEmpty, valuesFrom == nil {
            throw ValidationError("--match-criteria needs --values (or --values-from FILE)")
        }
    }

    /// The lines of `path` (`-` = standard input) that are values: blank lines and `#` comments
    /// skipped; any line break (LF, CRLF) ends a line. At most 64 MiB.
    /// - Throws: `MprefdError` exit 64 when the file cannot be read, is larger, or is not UTF-8.
    static func readValues(_ path: String) throws -> [String] {
        let data: Data
        do {
            data =
                path == "-"
                ? FileHandle.standardInput.readDataToEndOfFile()
                : try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw MprefdError.usage(
                "cannot read --values-from \(ConfigValueReader.quote(path)): \(error.localizedDescription)")
        }
        guard data.count <= 64 << 20 else {
            throw MprefdError.usage("--values-from \(ConfigValueReader.quote(path)) is larger than 64 MiB")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw MprefdError.usage("--values-from \(ConfigValueReader.quote(path)) is not UTF-8 text")
        }
        // `\r\n` is one Character in Swift: split on every line break, CRLF included.
        return text.split(whereSeparator: \.isNewline).compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty || trimmed.hasPrefix("#") ? nil : String(line)
        }
    }

    func run() async throws {
        if let abandon { return try await settle(abandon: abandon) }
        if let resolve { return try await settle(resolve: resolve) }
        guard let segmentText = segment, let segment = SegmentName(segmentText) else {
            throw MprefdError.usage(
                "bad segment '\(TerminalText.escaped((segment ?? "").prefix(80)))': \(SegmentName.rule)")
        }
        let now = Date()
        let since = try self.since.map { try Self.instant($0, option: "--since", now: now) }
        let overlap = Duration.seconds(self.overlap?.seconds ?? 0)
        let criteria = matchCriteria
        if criteria == .alternateID, matchType == nil {
            throw MprefdError.usage("--match-criteria AlternateId needs --match-type (the vendor requires it)")
        }
        let values = try valuesFrom.map(Self.readValues) ?? self.values
        if values.count > 10_000 {
            throw MprefdError.usage("too many --values (\(values.count)): at most 10000 per export")
        }
        if let valuesFrom, values.isEmpty {
            throw MprefdError.usage("--values-from \(valuesFrom) holds no values: one per line")
        }
        for text in values + (matchType.map { [$0] } ?? [])
        where text.isEmpty || text.count > 1000 || text.unicodeScalars.contains(where: TerminalText.isUnsafe) {
            throw MprefdError.usage(
                "bad --values/--match-type \(ConfigValueReader.quote(TerminalText.escaped(text.prefix(80)))): 1–1000 characters without control or bidirectional characters"
            )
        }
        var deadlineSeconds = watch.deadlineSeconds
        let hooks = try watch.tokenHooks()
        let label = try watch.checkedLabel()

        let configuration = try await global.loadConfiguration(readingSecretFiles: true)
        guard !configuration.accounts.isEmpty else {
            throw MprefdError.configuration(
                "no account is configured\(configuration.filePath.map { " in \($0)" } ?? " (no config file)"); starting an export needs one under `accounts:`, with its base_url and auth"
            )
        }
        let clientID = try configuration.resolveClientID(clientID?.value)
        guard let account = configuration.accounts[clientID] else {
            throw MprefdError.configuration(
                "no account configured for client ID \(clientID); add it under `accounts:` (with its auth) to start exports"
            )
        }
        let database = AdminStore(try global.openDatabase(configuration, mode: .readWrite))
        if watch.autoDeadline {
            deadlineSeconds = try await watch.autoDeadlineSeconds(
                clientID: clientID, segment: segment, database: database)
        }

        let cursor = incremental ? try database.cursor(clientID: clientID, segment: segment) : nil
        var cursorPosition: Date?
        if let cursor {
            guard let position = Timestamp.parse(cursor.position) else {
                throw MprefdError(
                    exitCode: ExitCode.dataError,
                    "the cursor of segment \(TerminalText.escaped(segment.value)) (client ID \(clientID)) holds \(ConfigValueReader.quote(TerminalText.escaped(cursor.position.prefix(80)))), not a UTC time; set it with `mprefd cursors reset \(segment.value) --to TIME`, or remove it (no --to) for a full export"
                )
            }
            cursorPosition = position
        }
        let window: ExportWindow.Start
        do {
            window = try ExportWindow.start(
                since: since, incremental: incremental, overlap: overlap, cursor: cursorPosition, now: now)
        } catch {
            throw MprefdError(exitCode: error.fromCursor ? ExitCode.dataError : ExitCode.usage, error.description)
        }
        if incremental, cursor == nil {
            Output.note(
                since == nil
                    ? "segment \(segment) has no cursor yet: a full export"
                    : "segment \(segment) has no cursor yet: starting at --since")
        }
        // With callbacks on, MyPreferences is asked to POST to <public_url>/<id> when the export is
        // complete; the id (128 random bits) is stored with the attempt so the daemon's listener can
        // tell which token to poll.
        let callbackID = configuration.callbacks.map { _ in CallbackID.make() }
        let request = ExportRequest(
            callbackURL: callbackID.flatMap { id in configuration.callbacks?.callbackURL(id: id) },
            lastDateTime: window.start.map(ExportRequest.lastDateTime(for:)), matchCriteria: criteria,
            matchType: matchType, values: values)
        let sender = ExportSender.current
        let newExport = NewExport(
            clientID: clientID, segment: segment, label: label, incremental: window.fromCursor,
            windowStart: window.start,
            lastDateTime: request.lastDateTime, requestBody: request.json,
            deadlineSeconds: deadlineSeconds.map { $0 ?? 0 }, download: watch.download,
            globalHooks: !watch.noGlobalHooks, hooks: hooks,
            senderPID: sender.pid, senderIdentity: sender.identity, callbackID: callbackID)

        let export: ExportRecord
        switch try database.beginExport(newExport, at: Date()) {
        case .recorded(let recorded): export = recorded
        case .unsettled(let other): throw Self.unsettledError(other)
        }

        StderrLogHandler.bootstrap(
            level: global.verbose ? .debug : configuration.logLevel >= .warning ? configuration.logLevel : .warning,
            format: configuration.logFormat)
        let client = try MyPreferencesClient(configuration: account, logger: Logger(label: "mprefd"))
        let outcome = await initiate(export, request: request, segment: segment, client: client, database: database)
        try? await client.shutdown()
        switch outcome {
        case .started(let accessToken, let httpStatus):
            let token = NewToken(
                clientID: clientID, accessToken: accessToken, label: label,
                deadline: WatchOptions.deadline(
                    deadlineSeconds, configured: configuration.polling.deadline, now: Date()),
                hooks: hooks, globalHooks: !watch.noGlobalHooks, download: watch.download, segment: segment)
            let result: AddResult
            do {
                result = try database.exportStarted(id: export.id, token: token, httpStatus: httpStatus, at: Date())
            } catch {
                // The server started the export; only storing its token failed. Say everything needed to settle it.
                try? database.settleExport(
                    id: export.id, refused: false, httpStatus: httpStatus,
                    error: "access token \(accessToken) arrived but was not stored: \(error)", at: Date())
                throw MprefdError(
                    exitCode: ExitCode.unknownOutcome,
                    "export \(export.id) of segment \(segment) started with access token \(accessToken), but it could not be stored (\(error)); run `mprefd export --resolve \(export.id) \(accessToken)`"
                )
            }
            try report(try database.export(id: export.id), result: result)
        case .refused(let refusal, let reason):
            try? database.settleExport(id: export.id, refused: true, httpStatus: nil, error: reason, at: Date())
            try? reportJSON(export.id, database: database)
            let hint = reason.contains("HTTP 3") ? " (a redirect: check the account's base_url and initiate_path)" : ""
            throw MprefdError(
                exitCode: Self.exitCode(refusal),
                "export of segment \(TerminalText.escaped(segment.value)) (client ID \(clientID)) not started: \(TerminalText.escaped(reason))\(hint)"
            )
        case .unknown(let reason, let httpStatus):
            try? database.settleExport(id: export.id, refused: false, httpStatus: httpStatus, error: reason, at: Date())
            try? reportJSON(export.id, database: database)
            throw MprefdError(
                exitCode: ExitCode.unknownOutcome,
                "export \(export.id) of segment \(TerminalText.escaped(segment.value)) may have started, but its access token is unknown: \(TerminalText.escaped(reason)). Find it in MyPreferences, then `mprefd export --resolve \(export.id) TOKEN`, or `mprefd export --abandon \(export.id)`; until then this segment cannot be exported again"
            )
        }
    }

    private enum Outcome {
        case started(accessToken: AccessToken, httpStatus: Int?)
        case refused(InitiatePolicy.Refusal, reason: String)
        case unknown(reason: String, httpStatus: Int?)
    }

    /// Sends the initiate until it starts an export, is refused, or its outcome is unknown.
    private func initiate(
        _ export: ExportRecord, request: ExportRequest, segment: SegmentName, client: MyPreferencesClient,
        database: AdminStore
    ) async -> Outcome {
        let policy = InitiatePolicy()
        var rng = SystemRandomNumberGenerator()
        var attempt = 1
        while true {
            let result = await client.initiate(segment: segment, request: request)
            switch policy.decide(result, attempt: attempt, using: &rng) {
            case .started(let accessToken):
                return .started(accessToken: accessToken, httpStatus: result.httpStatus)
            case .refused(let refusal, let reason):
                return .refused(refusal, reason: reason)
            case .unknown(let reason):
                return .unknown(reason: reason, httpStatus: result.httpStatus)
            case .retry(let delay, let reason):
                Output.note(
                    "export of \(segment): \(reason); trying again in \(String(format: "%.1f", delay.seconds)) s (attempt \(attempt + 1) of \(policy.maxAttempts))"
                )
                do {
                    try await Task.sleep(for: delay)
                    try database.recordExportAttempt(id: export.id, at: Date())
                } catch {
                    return .refused(.unavailable, reason: "\(reason); not sent again: \(error)")
                }
                attempt += 1
            }
        }
    }

    /// With --json, the export's row as it ended (refused or unknown), so a script has its id.
    private func reportJSON(_ id: Int64, database: AdminStore) throws {
        guard json else { return }
        try Output.json(ExportJSON(export: try database.export(id: id), result: "not_started"))
    }

    private func report(_ export: ExportRecord, result: AddResult) throws {
        if case .alreadyWatched = result {
            Output.note(
                "access token \(result.token.accessToken) was already watched: it keeps its own label, deadline, hooks and download setting"
            )
        }
        guard json else {
            Output.line(result.token.accessToken.description)
            return
        }
        try Output.json(ExportJSON(export: export, result: AddResultJSON(result).result))
    }

    // MARK: Settling an unknown outcome

    private func settle(abandon id: Int64) async throws {
        let configuration = try await global.loadConfiguration()
        let database = AdminStore(try global.openDatabase(configuration, mode: .readWrite, requireExisting: true))
        let export = try database.abandonExport(id: id, at: Date(), isBeingSent: ExportSender.isAlive)
        if json {
            try Output.json(ExportJSON(export: export, result: "abandoned"))
        } else {
            Output.note(
                "export \(id) of segment \(TerminalText.escaped(export.segment)) abandoned; if its access token turns up, `mprefd export --resolve \(id) TOKEN` still watches it"
            )
        }
    }

    private func settle(resolve id: Int64) async throws {
        guard let tokenText = segment, let accessToken = AccessToken(digits: tokenText) else {
            throw MprefdError.usage(
                "bad access token '\(segment ?? "")' for --resolve \(id): \(AccessToken.rule)")
        }
        let configuration = try await global.loadConfiguration()
        let database = AdminStore(try global.openDatabase(configuration, mode: .readWrite, requireExisting: true))
        let export = try database.export(id: id)
        guard export.state.isUnsettled || (export.state == .abandoned && export.accessToken == nil) else {
            throw MprefdError.notFound(
                "export \(id) is \(export.state.rawValue)\(export.accessToken.map { " (access token \($0))" } ?? ""); only a sending, unknown or abandoned export without a token can be resolved"
            )
        }
        if ExportSender.isAlive(export) {
            throw MprefdError(
                exitCode: ExitCode.temporaryFailure,
                "export \(id) is being sent right now by process \(export.senderPID.map(String.init) ?? "?"); wait for that `mprefd export` to finish"
            )
        }
        if export.hooksUnreadable {
            throw MprefdError(
                exitCode: ExitCode.dataError,
                "export \(id)'s hooks column is not a JSON array of {\"on_event\", \"command\"}; fix it with sqlite3 (e.g. UPDATE exports SET hooks = '[]' WHERE id = \(id)), then resolve again"
            )
        }
        guard let clientID = ClientID(export.clientID) else {
            throw MprefdError(
                exitCode: ExitCode.dataError,
                "export \(id)'s client_id '\(TerminalText.escaped(export.clientID))' is not a client ID (\(ClientID.rule)); fix it with sqlite3, then resolve again"
            )
        }
        let now = Date()
        let deadline: Int64?? = export.deadlineSeconds.map { $0 == 0 ? .some(nil) : .some($0) } ?? nil
        let token = NewToken(
            clientID: clientID, accessToken: accessToken, label: export.label,
            deadline: WatchOptions.deadline(deadline, configured: configuration.polling.deadline, now: now),
            hooks: export.hooks, globalHooks: export.globalHooks, download: export.download, segment: export.segmentName
        )
        let result: AddResult
        do {
            result = try database.exportStarted(id: id, token: token, httpStatus: nil, at: now, settled: true)
        } catch let error as StoreError where error.code == .corrupt {
            throw MprefdError.usage("\(error.message); give the access token of export \(id) itself")
        }
        try report(try database.export(id: id), result: result)
    }

    // MARK: Values

    static func unsettledError(_ other: ExportRecord) -> MprefdError {
        if ExportSender.isAlive(other) {
            return MprefdError(
                exitCode: ExitCode.temporaryFailure,
                "another `mprefd export` of segment \(TerminalText.escaped(other.segment)) (client ID \(other.clientID)) is being sent right now (export \(other.id), process \(other.senderPID.map(String.init) ?? "?")); wait for it, then try again"
            )
        }
        return MprefdError(
            exitCode: ExitCode.unknownOutcome,
            "export \(other.id) of segment \(TerminalText.escaped(other.segment)) (client ID \(other.clientID)), sent \(other.windowEnd), is \(other.state.rawValue): it may have started without mprefd knowing its token. Settle it first: `mprefd export --resolve \(other.id) TOKEN` or `mprefd export --abandon \(other.id)`"
        )
    }

    static func exitCode(_ refusal: InitiatePolicy.Refusal) -> ExitCode {
        switch refusal {
        case .badRequest: ExitCode.usage
        case .notFound: ExitCode.notFound
        case .credentials: ExitCode.configuration
        case .unavailable: ExitCode.unavailable
        }
    }

    /// A TIME argument: a UTC timestamp, a date (midnight UTC) or a duration before `now`.
    static func instant(_ text: String, option: String, now: Date) throws -> Date {
        if let date = Timestamp.parse(text) { return date }
        if text.utf8.count == 10, let date = Timestamp.parse(text + "T00:00:00Z") { return date }
        if !text.allSatisfy(\.isNumber), let seconds = AdminValues.durationSeconds(text) {
            return now.addingTimeInterval(-TimeInterval(seconds))
        }
        throw MprefdError.usage(
            "bad \(option) '\(TerminalText.escaped(text.prefix(80)))': a UTC time such as 2026-12-01T06:00:00Z, a date such as 2026-12-01, or a duration before now such as 36h"
        )
    }
}

/// `mprefd export --json`.
struct ExportJSON: Encodable {
    var export: ExportRecord
    /// `added`, `already_watched`, … (as add-token), or `abandoned`.
    var result: String

    enum CodingKeys: String, CodingKey {
        case exportID = "export_id", clientID = "client_id", segment, accessToken = "access_token", state
        case windowStart = "window_start", windowEnd = "window_end", lastDateTime = "last_date_time", result
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(export.id, forKey: .exportID)
        try c.encode(export.clientID, forKey: .clientID)
        try c.encode(export.segment, forKey: .segment)
        try c.encode(export.accessToken, forKey: .accessToken)
        try c.encode(export.state, forKey: .state)
        try c.encode(export.windowStart, forKey: .windowStart)
        try c.encode(export.windowEnd, forKey: .windowEnd)
        try c.encode(export.lastDateTime, forKey: .lastDateTime)
        try c.encode(result, forKey: .result)
    }
}

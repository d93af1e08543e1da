import ArgumentParser
import Foundation
import MprefCore
import Logging
import MprefStore
import MprefWorker
import MyPreferences

/// `mprefd download`: fetch a completed export now (one-shot), or re-arm failed downloads.
struct Download: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a completed export to a verified NDJSON file now, or re-arm failed downloads (--retry).",
        discussion: """
            One-shot (the default): runs the daemon's own download for one access token — every \
            page with keepAlive=true, appended and fsync'd, checkpointed in the database, the \
            records checked against TotalResults and RowCount, the file renamed, then the \
            commit (accounts.<ID>.download.keep_files) — and prints the file's path. Resumable: \
            run it again after an interruption and it continues from the last stored page. \
            The file is <download.directory>/<client ID>/<access token>.ndjson (mode 0640), or \
            --out. The token must be in the database and its export complete (`mprefd add-token` \
            it first; `mprefd wait` for it). It runs the token's hooks like the daemon would. \
            Refused while the daemon runs on the database (exit 75): with download on, the \
            daemon downloads by itself; use --retry to re-arm a failed one.

            A token whose export was already delivered prints its file and exits 0 (nothing is \
            fetched; the file is never touched). --out must name a new file: an existing path \
            (file, directory, device, symlink) is refused with exit 64, never replaced.

            --retry: re-arms tokens in state download_failed (or expired mid-download) for the \
            running daemon, from their checkpoint; with --from-start, from the first record (for a \
            checkpoint edited into something unusable).

            Exit 0 when delivered (or re-armed), 1 when the download failed or the export is \
            gone, 64 for bad arguments, 75 when the daemon holds the database.

            Examples:
              mprefd download 123456
              mprefd download 123456 --out /data/acme/today.ndjson --json
              mprefd download --retry 123456 123457
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(
        help: ArgumentHelp("The access token (several with --retry).", valueName: "access-token"),
        transform: AccessToken.parseArgument)
    var accessTokens: [AccessToken] = []

    @Option(
        name: .customLong("client-id"),
        help: ArgumentHelp("The client ID, when the access token exists under several.", valueName: "id"),
        transform: ClientID.parseArgument)
    var clientID: ClientID?

    @Flag(help: "Re-arm failed downloads for the running daemon instead of downloading now.")
    var retry = false

    @Flag(
        name: .customLong("from-start"),
        help: "With --retry: drop the checkpoint and download from the first record again.")
    var fromStart = false

    @Option(
        help: ArgumentHelp(
            "Write the file here instead of under download.directory (one-shot only).", valueName: "path"))
    var out: String?

    @Flag(help: "Print the result as one JSON object (the download's checkpoint and the token's state).")
    var json = false

    func validate() throws {
        guard !accessTokens.isEmpty else { throw ValidationError("give an access token") }
        if !retry, accessTokens.count > 1 {
            throw ValidationError("one access token at a time (several only with --retry)")
        }
        if retry, out != nil { throw ValidationError("--out applies to a one-shot download, not to --retry") }
        if fromStart, !retry { throw ValidationError("--from-start goes with --retry") }
        if let out, out.isEmpty || out.hasSuffix("/") || out.contains("\u{0}") {
            throw ValidationError("bad --out '\(out)': give a file path")
        }
    }

    func run() async throws {
        let tokens = AccessToken.unique(accessTokens)
        let clientID = self.clientID
        if retry {
            try await rearm(tokens)
            return
        }
        let configuration = try await global.loadConfiguration(readingSecretFiles: true)
        let path = global.databaseLocation(configuration).path
        let lock: DaemonLock
        do {
            lock = try DaemonLock(databasePath: path, attempts: 1)
        } catch let failure as DaemonLock.Failure {
            throw MprefdError(
                exitCode: ExitCode.temporaryFailure,
                "\(failure.description); the daemon downloads completed exports itself when download is on (see `mprefd show`), and `mprefd download --retry` re-arms a failed one"
            )
        }
        defer { withExtendedLifetime(lock) {} }
        let database = AdminStore(try global.openDatabase(configuration, mode: .readWrite, requireExisting: true))
        guard let record = try TokenSelection.resolve(tokens, clientID: clientID, in: database).first else {
            throw MprefdError.notFound(TokenSelection.notFoundMessage(tokens[0], clientID: clientID))
        }
        guard let recordClientID = ClientID(record.clientID) else {
            throw MprefdError(
                exitCode: ExitCode.dataError,
                "token \(record.accessToken)'s client_id '\(TerminalText.escaped(record.clientID))' is no client ID (\(ClientID.rule)); `mprefd show \(record.accessToken)` says how to repair the row"
            )
        }
        guard let account = configuration.accounts[recordClientID] else {
            throw MprefdError.configuration(
                "no account configured for client ID \(recordClientID); add it under `accounts:` to download its exports"
            )
        }
        let settings = configuration.downloads[recordClientID] ?? DownloadSettings()
        guard
            let file = out.map({ ConfigurationLoader.absolute($0) })
                ?? settings.file(clientID: recordClientID, accessToken: record.accessToken)
        else {
            throw MprefdError.usage("client ID \(record.clientID) cannot name a file; pass --out")
        }
        // Delivered already: the verified file is the answer (idempotent for scripts); it is never
        // touched again. Fetching again needs a new --out.
        if let done = try database.downloadCheckpoint(tokenID: record.id), done.phase == .committed,
            out == nil || file == done.file, done.fileDeletedAt == nil,
            FileManager.default.fileExists(atPath: done.file)
        {
            if json {
                try Output.json(
                    DownloadResultJSON(
                        clientID: record.clientID, accessToken: record.accessToken, state: record.state.rawValue,
                        download: DownloadJSON(done)))
            } else {
                Output.note(
                    "already delivered (sha256 \(done.sha256 ?? "?")); to fetch it again, pass --out with a new path")
                Output.line(done.file)
            }
            return
        }
        try Self.checkTarget(file, resuming: try database.downloadCheckpoint(tokenID: record.id))
        guard try database.prepareDownload(tokenID: record.id, file: file) else {
            throw MprefdError.notFound(
                "access token \(record.accessToken) is \(record.state.rawValue), not a completed export; `mprefd wait \(record.accessToken)` until it is complete"
            )
        }
        StderrLogHandler.bootstrap(
            level: global.verbose ? .debug : configuration.logLevel >= .warning ? configuration.logLevel : .warning,
            format: configuration.logFormat)
        let logger = Logger(label: "mprefd")
        let client = try MyPreferencesClient(configuration: account, logger: logger)
        defer { Task { try? await client.shutdown() } }
        // The daemon's download step, run here without the daemon (the lock above keeps it away).
        let step = DownloadStep(
            database: DaemonStore(database.database), policy: PollPolicy(configuration: configuration.polling),
            hooks: HookSelection(global: HookConfiguration.globalHooks(configuration.hooks)), files: OpenDownloads(),
            logger: logger,
            wallNow: { Date() })
        let state = try await deliver(
            record, file: file, step: step, client: client, settings: settings, account: account, database: database)
        try await client.shutdown()
        let checkpoint = try database.downloadCheckpoint(tokenID: record.id)
        if json {
            try Output.json(
                DownloadResultJSON(
                    clientID: record.clientID, accessToken: record.accessToken, state: state.rawValue,
                    download: checkpoint.map(DownloadJSON.init)))
        } else if state == .complete, let checkpoint {
            Output.line(checkpoint.file)
        }
        guard state == .complete else {
            let reason =
                try database.findTokens(accessTokens: [record.accessToken], clientID: recordClientID).first?.lastError
                ?? state.rawValue
            throw MprefdError.notFound("download of \(record.accessToken) ended \(state.rawValue): \(reason)")
        }
    }

    /// Runs download steps until the token leaves `downloading`, waiting out each step's delay
    /// (backoff, Retry-After, a pause); progress goes to stderr. Returns the final state.
    private func deliver(
        _ record: TokenRecord, file: String, step: DownloadStep, client: MyPreferencesClient,
        settings: DownloadSettings,
        account: AccountConfiguration, database: AdminStore
    ) async throws -> TokenState {
        var token = WatchedToken(
            id: record.id, clientID: account.clientID, accessToken: record.accessToken, state: .downloading,
            rowCount: record.rowCount, byteCount: record.byteCount)
        var rng = SystemRandomNumberGenerator()
        var lastProgress = ""
        while true {
            try Task.checkCancellation()
            let report = await step.run(
                token: token, source: client, settings: settings, hostKey: PollTarget.hostKey(of: account.baseURL),
                file: file, using: &rng)
            guard report.recorded else {
                throw MprefdError(
                    exitCode: ExitCode.temporaryFailure, "the download step could not be stored; run the command again")
            }
            token.consecutiveErrors = report.consecutiveErrors
            token.consecutiveNotFound = report.consecutiveNotFound
            if let checkpoint = try database.downloadCheckpoint(tokenID: record.id), !json {
                let line =
                    "\(checkpoint.phase.rawValue): \(DownloadDisplay.progress(checkpoint)), \(checkpoint.bytes) bytes"
                if line != lastProgress { FileHandle.standardError.write(Data((line + "\n").utf8)) }
                lastProgress = line
            }
            guard report.newState == .downloading, let delay = report.nextDelay else { return report.newState }
            if delay > .zero { try await Task.sleep(for: delay) }
        }
    }

    /// The file to write must be new: nothing at `file` (a delivered file, a directory, a device or
    /// a symlink is never renamed, truncated or replaced), and at `file.partial` at most a regular
    /// file this download's own checkpoint started.
    /// - Throws: `MprefdError` exit 64 naming what is in the way.
    static func checkTarget(_ file: String, resuming checkpoint: DownloadCheckpoint?) throws {
        // The one exception: this download's own file, renamed before its checkpoint was stored.
        let ownUnrecordedRename = checkpoint.map { $0.file == file && $0.phase != .committed && $0.pages > 0 } ?? false
        let existing = DownloadFile.kind(at: file)
        if existing != .nothing, !(ownUnrecordedRename && existing == .regularFile) {
            throw MprefdError.usage(
                "\(file) already exists; the download never replaces a file: move it away or choose another --out")
        }
        let partial = file + ".partial"
        let partialKind = DownloadFile.kind(at: partial)
        if partialKind != .nothing {
            guard partialKind == .regularFile, checkpoint?.file == file else {
                throw MprefdError.usage(
                    "\(partial) already exists and is not this download's own partial file; move it away or choose another --out"
                )
            }
        }
    }

    private func rearm(_ tokens: [AccessToken]) async throws {
        let configuration = try await global.loadConfiguration()
        let database = AdminStore(try global.openDatabase(configuration, mode: .readWrite, requireExisting: true))
        let records = try TokenSelection.resolve(tokens, clientID: clientID, in: database)
        let rearmed = Set(try database.retryDownloads(tokenIDs: records.map(\.id), fromStart: fromStart))
        var lines: [String] = []
        for record in records {
            lines.append(
                rearmed.contains(record.id)
                    ? "re-armed \(record.displayName): downloading from its checkpoint"
                    : "left \(record.displayName): \(record.state.rawValue), not a failed download")
        }
        Output.line(lines.joined(separator: "\n"))
        if rearmed.count < records.count {
            throw MprefdError.notFound(
                "\(records.count - rearmed.count) of \(records.count) tokens were not failed downloads")
        }
    }
}

/// `mprefd download --json`.
struct DownloadResultJSON: Encodable {
    var clientID: String
    var accessToken: AccessToken
    var state: String
    var download: DownloadJSON?

    enum CodingKeys: String, CodingKey {
        case state, download
        case clientID = "client_id"
        case accessToken = "access_token"
    }
}

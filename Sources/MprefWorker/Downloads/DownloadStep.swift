import Foundation
import Logging
import MprefCore
import MprefStore
import MyPreferences

/// One step of a download, for a token in state `downloading`: one page (fetch, check, append,
/// fsync, checkpoint), or — after the last page — the count check, rename and commit. The
/// checkpoint, the request's history row, the token row and any hook runs are stored in one
/// transaction after the file is durable, so a crash at any point loses at most the page in hand.
///
/// Requests go through the scheduler like polls (pace, in-flight limit, host and account pauses);
/// their failures follow ``PollPolicy``'s rules (503/429 pause the host, 401/403 the account,
/// the rest back off), and `download.max_attempts` failures in a row end in `download_failed`.
package struct DownloadStep: Sendable {
    /// What the step did, for the scheduler.
    package struct Report: Sendable {
        package var newState: TokenState
        package var nextDelay: Duration?
        package var pause: PauseRecord?
        package var consecutiveErrors: Int
        package var consecutiveNotFound: Int
        /// The step was stored (false: the database refused it; the step runs again later).
        package var recorded: Bool
        package var tokenUpdated: Bool
        package var hookRunsCreated: Bool

        /// Nothing was stored (the database refused, or shutdown cancelled the step): the token is
        /// as it was, and the step runs again later.
        static func notRecorded(_ token: WatchedToken) -> Report {
            Report(
                newState: .downloading, nextDelay: nil, pause: nil, consecutiveErrors: token.consecutiveErrors,
                consecutiveNotFound: token.consecutiveNotFound, recorded: false, tokenUpdated: false,
                hookRunsCreated: false)
        }
    }

    let database: DaemonStore
    let policy: PollPolicy
    let hooks: HookSelection
    let files: OpenDownloads
    let logger: Logger
    let wallNow: @Sendable () -> Date

    package init(
        database: DaemonStore, policy: PollPolicy, hooks: HookSelection, files: OpenDownloads, logger: Logger,
        wallNow: @escaping @Sendable () -> Date
    ) {
        self.database = database
        self.policy = policy
        self.hooks = hooks
        self.files = files
        self.logger = logger
        self.wallNow = wallNow
    }

    /// The working state of one step: the token's counters and the checkpoint being advanced.
    private struct Progress {
        var checkpoint: DownloadCheckpoint
        var state = TokenState.downloading
        var errors: Int
        var notFound: Int
        var delay: Duration? = .zero
        var pause: PauseRecord?
        var lastError: String?
        var request: DownloadRequestRecord?
    }

    /// Runs one step for `token` against `source` with `settings`.
    /// - Parameter file: the final path (`mprefd download --out`); default: the one ``DownloadSettings`` names.
    package func run(
        token: WatchedToken, source: any DownloadSource, settings: DownloadSettings, hostKey: String,
        file: String? = nil,
        using rng: inout some RandomNumberGenerator
    ) async -> Report {
        let metadata: Logger.Metadata = [
            "export.client_id": "\(token.clientID)", "export.access_token": "\(token.accessToken)",
        ]
        guard let path = file ?? settings.file(clientID: token.clientID, accessToken: token.accessToken) else {
            return await fail(token, "the client ID \(token.clientID) cannot name a file", metadata: metadata)
        }
        let checkpoint: DownloadCheckpoint
        do {
            checkpoint = try await database.startDownload(tokenID: token.id, file: path, at: wallNow())
        } catch let error as StoreError where error.code == .corrupt {
            // A row edited into something unusable: say so once, as the download's failure.
            return await fail(
                token,
                "the downloads row cannot be read: \(error.message); delete it (sqlite3) or run "
                    + "`mprefd download --retry --from-start \(token.accessToken)`", metadata: metadata)
        } catch {
            logger.error(
                "download checkpoint cannot be read; will try again",
                metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return .notRecorded(token)
        }
        if checkpoint.pages == 0, checkpoint.phase == .fetching {
            logger.info("download started", metadata: metadata.merging(["download.file": "\(path)"]) { $1 })
        }
        var progress = Progress(
            checkpoint: checkpoint, errors: token.consecutiveErrors, notFound: token.consecutiveNotFound)
        switch checkpoint.phase {
        case .fetching:
            await fetchPage(
                token: token, source: source, settings: settings, hostKey: hostKey, progress: &progress,
                metadata: metadata, using: &rng)
        case .committing:
            await commit(
                token: token, source: source, settings: settings, hostKey: hostKey, progress: &progress,
                metadata: metadata, using: &rng)
        case .committed:
            progress.state = .complete
        case .failed:
            progress.state = .downloadFailed
        case .expired:
            progress.state = .expired
        }
        let report = await record(token: token, progress, metadata: metadata)
        // Stopped, or an operator changed the token meanwhile (removed, paused): nothing stays open for it.
        if report.recorded, report.newState != .downloading || !report.tokenUpdated { files.forget(token.id) }
        return report
    }

    // MARK: Pages

    private func fetchPage(
        token: WatchedToken, source: any DownloadSource, settings: DownloadSettings, hostKey: String,
        progress: inout Progress, metadata: Logger.Metadata, using rng: inout some RandomNumberGenerator
    ) async {
        var cp = progress.checkpoint
        // The next page, asked for by the previous step: used when this step goes on where that one left off.
        var prefetched = files.takePrefetched(token.id)
        // The file at the checkpoint: kept open from the previous step, or opened (and verified) now.
        let file: DownloadFile
        // The page at the checkpoint, spooled before a crash or kill: stored from the spool, not fetched again.
        var spooled: PageBody?
        if let open = files.take(token.id), open.bytes == cp.bytes {
            file = open
        } else {
            prefetched?.answer.cancel()
            prefetched = nil
            do {
                let at = cp
                let opened = try await FileIO.run { () throws(DownloadFileError) in
                    try DownloadFile.open(
                        partial: at.partialFile, final: at.file, bytes: at.bytes, sha256: at.sha256Prefix,
                        nextOffset: at.nextOffset)
                }
                file = opened.file
                spooled = opened.spooledBody
                if opened.restarted {
                    logger.warning(
                        "download file does not match its checkpoint; starting it over",
                        metadata: metadata.merging([
                            "download.file": "\(cp.partialFile)", "download.checkpoint_bytes": "\(cp.bytes)",
                        ]) { $1 })
                    cp = DownloadCheckpoint(tokenID: cp.tokenID, file: cp.file, startedAt: cp.startedAt)
                } else if let spooled {
                    logger.info(
                        "download resumed with the page spooled before the restart",
                        metadata: metadata.merging([
                            "download.file": "\(cp.partialFile)", "download.offset": "\(cp.nextOffset)",
                            "download.spooled_bytes": "\(spooled.count)",
                        ]) { $1 })
                }
            } catch {
                diskTrouble(error, settings: settings, progress: &progress, metadata: metadata)
                return
            }
        }
        progress.checkpoint = cp
        if cp.bytes == 0, cp.pages == 0 {
            let needed = DownloadPolicy.spaceNeeded(byteCount: token.byteCount, margin: settings.freeSpaceMargin)
            let path = cp.file
            if let free = await FileIO.run({ DownloadFile.freeBytes(near: path) }), free < needed {
                files.put(token.id, file)
                diskTrouble(
                    DownloadFileError(diskFull: true, description: "\(free) bytes free, \(needed) needed"),
                    settings: settings,
                    progress: &progress, metadata: metadata)
                return
            }
        }

        // The page's body: from the spool (no request), the request the previous step sent early, or a request now.
        let body: PageBodyResult
        var requestedAt: Date?
        if let spooled {  // only after a reopen, which dropped any early request
            body = PageBodyResult(outcome: .ok(spooled), httpStatus: 200, latency: .zero)
        } else if let prefetched, prefetched.offset == cp.nextOffset {
            requestedAt = prefetched.requestedAt
            body = await withTaskCancellationHandler {
                await prefetched.answer.value
            } onCancel: {
                prefetched.answer.cancel()
            }
        } else {
            prefetched?.answer.cancel()
            requestedAt = wallNow()
            body = await source.pageBody(of: token.accessToken, offset: cp.nextOffset, limit: settings.pageSize)
        }
        if case .ok(let arrived) = body.outcome {
            // Pipelined: the body is spooled, then the next page is asked for at once, so decoding,
            // writing and making this page durable overlap the next GET; a kill from here on costs only
            // that request (see ``DownloadPolicy/prefetchesNext(askedOffset:limit:committedTotal:failures:)``).
            let prefetch =
                DownloadPolicy.prefetchesNext(
                    askedOffset: cp.nextOffset, limit: settings.pageSize, committedTotal: cp.totalResults,
                    failures: progress.errors) && !Task.isCancelled
            let (asked, next) = (cp.nextOffset, cp.nextOffset.addingSaturating(Int64(settings.pageSize)))
            let (accessToken, tokenID, pageSize) = (token.accessToken, token.id, settings.pageSize)
            do {
                try await FileIO.run { [files, wallNow, spooled] () throws(DownloadFileError) in
                    if spooled == nil { try file.spool(arrived, offset: asked) }
                    guard prefetch else { return }
                    let answer = Task { await source.pageBody(of: accessToken, offset: next, limit: pageSize) }
                    files.putPrefetched(tokenID, PrefetchedPage(offset: next, requestedAt: wallNow(), answer: answer))
                }
            } catch {
                files.put(token.id, file)
                diskTrouble(error, settings: settings, progress: &progress, metadata: metadata)
                progress.request = requestedAt.map {
                    var request = DownloadRequestRecord(.page, at: $0, offset: asked, body)
                    request.error = "page not stored: \(error)"
                    return request
                }
                return
            }
        }
        let result = PageResult(
            outcome: body.outcome.flatMap { $0.decoded() }, httpStatus: body.httpStatus, latency: body.latency)
        // A page stored from the spool was asked for by the process that spooled it: no request now.
        var request = requestedAt.map { DownloadRequestRecord(.page, at: $0, offset: cp.nextOffset, result) }
        defer { progress.request = request }

        guard case .ok(let page) = result.outcome else {
            files.takePrefetched(token.id)?.answer.cancel()  // asked for after a body that is no page
            files.put(token.id, file)
            requestFailed(
                result.outcome, httpStatus: result.httpStatus, token: token, settings: settings, hostKey: hostKey,
                progress: &progress, using: &rng)
            request?.retryAfterS = progress.pause?.retryAfterS
            request?.error = progress.lastError
            return
        }
        request?.totalResults = page.totalResults
        if let problem = DownloadPolicy.problem(
            with: page, askedOffset: cp.nextOffset, storedRecords: cp.records, previousTotal: cp.totalResults,
            rowCount: token.rowCount)
        {
            files.takePrefetched(token.id)?.answer.cancel()  // asked for after a page that cannot be stored
            files.put(token.id, file)
            request?.outcome = .undecodable
            requestFailed(
                RequestOutcome<ExportPage>.undecodable(reason: problem, excerpt: ""), httpStatus: result.httpStatus,
                token: token,
                settings: settings, hostKey: hostKey, progress: &progress, using: &rng)
            request?.error = progress.lastError
            return
        }
        do {
            let records = page.ndjson
            try await FileIO.run { () throws(DownloadFileError) in try file.append(records) }
            files.clearTrouble(token.id)
        } catch {
            files.put(token.id, file)
            diskTrouble(error, settings: settings, progress: &progress, metadata: metadata)
            request?.error = "page not stored: \(error)"
            return
        }
        progress.errors = 0
        progress.notFound = 0
        cp.nextOffset = cp.nextOffset.addingSaturating(Int64(page.records))
        cp.records = cp.records.addingSaturating(Int64(page.records))
        cp.bytes = file.bytes
        cp.sha256Prefix = file.digest
        cp.totalResults = page.totalResults ?? cp.totalResults
        cp.pages = cp.pages.incrementedSaturating
        cp.lastError = nil
        request?.records = Int64(page.records)
        request?.bytes = Int64(page.ndjson.count)
        progress.checkpoint = cp
        logProgress(cp, metadata: metadata)

        guard DownloadPolicy.isLast(page, recordsAfter: cp.records, total: cp.totalResults) else {
            files.put(token.id, file)
            return
        }
        // The last page is stored: check the count, then make the file final.
        if let mismatch = DownloadPolicy.countMismatch(
            records: cp.records, totalResults: cp.totalResults, rowCount: token.rowCount)
        {
            if settings.strictCounts {
                files.put(token.id, file)
                progress.state = .downloadFailed
                progress.delay = nil
                progress.lastError = "download not verified: \(mismatch); the records are kept in \(cp.partialFile)"
                progress.checkpoint.phase = .failed
                progress.checkpoint.lastError = progress.lastError
                return
            }
            logger.warning(
                "download count mismatch accepted (verify_counts: warn)",
                metadata: metadata.merging(["error": "\(mismatch)"]) { $1 })
        }
        do {
            let final = cp.file
            let sha256 = try await FileIO.run { () throws(DownloadFileError) in try file.finish(as: final) }
            progress.checkpoint.sha256 = sha256
            progress.checkpoint.verifiedAt = wallNow()
            progress.checkpoint.phase = .committing
            logger.info(
                "download verified",
                metadata: metadata.merging([
                    "download.file": "\(cp.file)", "download.records": "\(cp.records)", "download.bytes": "\(cp.bytes)",
                    "download.sha256": "\(sha256)",
                ]) { $1 })
        } catch {
            diskTrouble(error, settings: settings, progress: &progress, metadata: metadata)
        }
    }

    // MARK: Commit

    private func commit(
        token: WatchedToken, source: any DownloadSource, settings: DownloadSettings, hostKey: String,
        progress: inout Progress, metadata: Logger.Metadata, using rng: inout some RandomNumberGenerator
    ) async {
        // `keep_files` set means a commit was sent whose answer was never stored (a crash or kill
        // in between): then a 404/400 now says the export was committed already. Set before sending.
        let answerLost = progress.checkpoint.keepFiles != nil
        if !answerLost {
            do {
                try await database.markCommitSent(tokenID: token.id, keepFiles: settings.keepFiles)
            } catch {
                progress.delay = policy.configuration.initialDelay
                progress.lastError = "commit not sent: \(error)"
                return
            }
        }
        let requestedAt = wallNow()
        let result = await source.commit(token.accessToken, keepFiles: settings.keepFiles)
        var request = DownloadRequestRecord(.commit, at: requestedAt, offset: nil, result)
        defer { progress.request = request }
        let acceptedAfterLostAnswer: Bool
        switch result.outcome {
        case .notFound, .badRequest: acceptedAfterLostAnswer = answerLost
        default: acceptedAfterLostAnswer = false
        }
        switch result.outcome {
        case _ where acceptedAfterLostAnswer, .ok:
            if case .ok = result.outcome {
            } else {
                // The file is verified, and the commit sent before a restart lost its answer: the
                // export was committed then.
                request.error =
                    "commit answered \(result.httpStatus.map(String.init) ?? "?") after an earlier commit whose answer was lost; taken as committed"
                logger.warning(
                    "commit refused; the verified file is delivered anyway",
                    metadata: metadata.merging([
                        "http.status": "\(result.httpStatus.map(String.init) ?? "-")"
                    ]) { $1 })
            }
            progress.errors = 0
            progress.state = .complete
            progress.delay = nil
            progress.checkpoint.phase = .committed
            progress.checkpoint.committedAt = wallNow()
            progress.checkpoint.keepFiles = settings.keepFiles
            progress.checkpoint.lastError = nil
            logger.info(
                "download committed",
                metadata: metadata.merging([
                    "download.file": "\(progress.checkpoint.file)",
                    "download.records": "\(progress.checkpoint.records)",
                ]) { $1 })
        default:
            // Answered, so no commit is in flight any more: a later 404 is not taken as success.
            progress.checkpoint.keepFiles = nil
            requestFailed(
                result.outcome, httpStatus: result.httpStatus, token: token, settings: settings, hostKey: hostKey,
                progress: &progress, using: &rng)
            request.retryAfterS = progress.pause?.retryAfterS
            request.error = progress.lastError
        }
    }

    // MARK: Failures

    /// A page or commit request without a usable answer: the poll rules for pauses and backoff;
    /// 404s in a row mean the export is gone (`expired`, the partial file kept); other failures in a
    /// row beyond `max_attempts` end in `download_failed`.
    private func requestFailed<Answer>(
        _ outcome: RequestOutcome<Answer>, httpStatus: Int?, token: WatchedToken, settings: DownloadSettings,
        hostKey: String, progress: inout Progress, using rng: inout some RandomNumberGenerator
    ) {
        let what = progress.checkpoint.phase == .committing ? "commit" : "page"
        let cp = progress.checkpoint
        let saved = "\(cp.records) of \(cp.totalResults.map(String.init) ?? "?") records kept in \(cp.partialFile)"
        if let failure = policy.transientFailure(
            outcome, httpStatus: httpStatus, body: what, errors: &progress.errors, clientID: token.clientID,
            hostKey: hostKey, now: wallNow(), using: &rng)
        {
            progress.delay = failure.delay
            progress.pause = failure.pause
            progress.lastError =
                "\(what) request: \(failure.lastError)"
                + (failure.detail.flatMap { $0.isEmpty ? nil : ": \($0)" } ?? "")
            if failure.pause != nil { return }  // a host or account pause: not the download's fault
        } else if case .notFound = outcome {
            progress.notFound = progress.notFound.incrementedSaturating
            progress.errors = progress.errors.incrementedSaturating
            if progress.notFound >= policy.configuration.notFoundLimit, what == "commit" {
                progress.state = .downloadFailed
                progress.delay = nil
                progress.lastError =
                    "the commit answered 404 \(progress.notFound) times: check the account's commit_path; "
                    + "the verified file is at \(cp.file); `mprefd download --retry` commits again"
                progress.checkpoint.phase = .failed
                progress.checkpoint.lastError = progress.lastError
                return
            }
            if progress.notFound >= policy.configuration.notFoundLimit {
                progress.state = .expired
                progress.delay = nil
                progress.lastError = "the export is gone (404 on \(what) \(progress.notFound) times in a row); \(saved)"
                progress.checkpoint.phase = .expired
                progress.checkpoint.lastError = progress.lastError
                return
            }
            progress.delay = policy.backoff.delay(attempt: progress.errors, using: &rng)
            progress.lastError =
                "\(what) request: 404 Not Found (\(progress.notFound) of \(policy.configuration.notFoundLimit))"
        } else if case .badRequest(let text) = outcome {
            progress.errors = progress.errors.incrementedSaturating
            progress.delay = policy.backoff.delay(attempt: progress.errors, using: &rng)
            progress.lastError = "\(what) request: 400 Bad Request: \(text)"
        }
        if progress.errors >= settings.maxAttempts {
            progress.state = .downloadFailed
            progress.delay = nil
            progress.lastError =
                "download failed after \(progress.errors) failed requests in a row: \(progress.lastError ?? "?"); \(saved)"
            progress.checkpoint.phase = .failed
            progress.checkpoint.lastError = progress.lastError
        }
    }

    /// A full disk (or quota): keep the checkpoint, log once per download, try again later. Any other
    /// file error (read-only file system, a symlink or directory in the way, permissions) will not
    /// clear by itself: the download is `download_failed` with it, and `--retry` after the fix.
    private func diskTrouble(
        _ error: any Error, settings: DownloadSettings, progress: inout Progress, metadata: Logger.Metadata
    ) {
        guard let fileError = error as? DownloadFileError, fileError.diskFull else {
            progress.state = .downloadFailed
            progress.delay = nil
            progress.lastError =
                "download failed: the file cannot be written: \(error); fix it, then `mprefd download --retry`"
            progress.checkpoint.phase = .failed
            progress.checkpoint.lastError = progress.lastError
            return
        }
        let text = "not enough disk space: \(fileError.description)"
        if files.noteTrouble(progress.checkpoint.tokenID, text) {
            logger.error(
                "download waits: the file cannot be written; it resumes from its checkpoint when this clears",
                metadata: metadata.merging([
                    "error": "\(text)", "retry_in_s": "\(settings.diskRetry.seconds)",
                ]) { $1 })
        }
        progress.delay = settings.diskRetry
        progress.lastError = text
        progress.checkpoint.lastError = text
    }

    private func logProgress(_ cp: DownloadCheckpoint, metadata: Logger.Metadata) {
        var fields = metadata
        fields["download.records"] = "\(cp.records)"
        fields["download.total_results"] = "\(cp.totalResults.map(String.init) ?? "?")"
        fields["download.bytes"] = "\(cp.bytes)"
        fields["download.pages"] = "\(cp.pages)"
        logger.debug("download page stored", metadata: fields)
    }

    // MARK: Record

    /// - Parameter keepingCheckpoint: leave the `downloads` row as it is (there is none, or it cannot be read).
    private func record(
        token: WatchedToken, _ progress: Progress, keepingCheckpoint: Bool = false, metadata: Logger.Metadata
    ) async -> Report {
        // Shutdown cancelled the step (its request likely failed because of it): nothing is stored,
        // as for an abandoned poll; bytes appended past the checkpoint are cut at the next start.
        guard !Task.isCancelled else {
            return .notRecorded(token)
        }
        var request = progress.request
        request?.nextDelayS = progress.delay.map { ($0.seconds * 1000).rounded() / 1000 }
        let now = wallNow()
        let write = DownloadWrite(
            tokenID: token.id, request: request, checkpoint: keepingCheckpoint ? nil : progress.checkpoint,
            newState: progress.state,
            nextPollAt: progress.delay.map { WallClock.adding($0, to: now) }, consecutiveErrors: progress.errors,
            consecutiveNotFound: progress.notFound, lastError: progress.lastError, at: now)
        do {
            let stored = try await database.recordDownload(
                write, pauses: progress.pause.map { [$0] } ?? [], hooks: hooks.planner)
            if progress.state == .downloadFailed || progress.state == .expired {
                logger.error(
                    "download stopped",
                    metadata: metadata.merging([
                        "token.state": "\(progress.state.rawValue)", "error": "\(progress.lastError ?? "")",
                    ]) { $1 })
            }
            MprefMetrics.downloadRequestRecorded(request, records: request?.records, bytes: request?.bytes)
            return Report(
                newState: progress.state, nextDelay: progress.delay, pause: progress.pause,
                consecutiveErrors: progress.errors,
                consecutiveNotFound: progress.notFound, recorded: true, tokenUpdated: stored.tokenUpdated,
                hookRunsCreated: stored.hookRuns > 0)
        } catch {
            logger.error(
                "download step not recorded; will try again", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return .notRecorded(token)
        }
    }

    private func fail(_ token: WatchedToken, _ text: String, metadata: Logger.Metadata) async -> Report {
        logger.error("download cannot start", metadata: metadata.merging(["error": "\(text)"]) { $1 })
        let now = wallNow()
        let placeholder = DownloadCheckpoint(
            tokenID: token.id, file: "", phase: .failed, startedAt: now, lastError: text)
        let progress = Progress(
            checkpoint: placeholder, state: .downloadFailed, errors: token.consecutiveErrors,
            notFound: token.consecutiveNotFound, delay: nil, lastError: text)
        return await record(token: token, progress, keepingCheckpoint: true, metadata: metadata)
    }
}

extension DownloadRequestRecord {
    /// The history row of one page or commit request, before the step adds what it stored.
    init<Answer>(_ kind: Kind, at requestedAt: Date, offset: Int64?, _ result: RequestResult<Answer>) {
        self.init(
            requestedAt: requestedAt, kind: kind, pageOffset: offset, httpStatus: result.httpStatus, records: nil,
            bytes: nil,
            totalResults: nil, latencyMs: result.latency.milliseconds, retryAfterS: nil, nextDelayS: nil,
            outcome: result.outcome.kind, error: nil)
    }
}

import AsyncHTTPClient
import Foundation
import Logging
import MprefCore
import NIOCore
import NIOHTTP1

/// Asks MyPreferences for the status of async exports of one account (one client ID).
///
/// Endpoint: MyPreferences Profiles API help, "GET Async/{clientId}/Export/{accessToken}/Status"
/// (or the API/3 async form "GET {clientId}/status/Token/{accessToken}", by configuration).
///
/// Owns one AsyncHTTPClient `HTTPClient`: a keep-alive pool of up to `maxConnectionsPerHost`
/// HTTP/1.1 connections (HTTP/2 where the server offers it over TLS), TLS certificate
/// verification always on, redirects never followed, connect timeout from the configuration.
/// Call ``shutdown()`` once before releasing the client.
package final class MyPreferencesClient: Sendable {
    /// This program's version, sent in `User-Agent`.
    package static let version = MprefVersion.current
    /// `mprefd/<version>`.
    package static let userAgent = "mprefd/\(version)"
    /// Default cap on pooled HTTP/1.1 connections per host (AsyncHTTPClient's own default is 8).
    package static let defaultMaxConnectionsPerHost = 64

    /// The account this client polls.
    package let configuration: AccountConfiguration

    private let httpClient: HTTPClient
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let authorizer: Authorizer
    private let urlTemplate: StatusURL.Template
    private let retrieveTemplate: StatusURL.Template
    private let commitTemplate: StatusURL.Template

    private enum Authorizer: Sendable {
        case none
        case pnauthinfo3(userID: String, secret: Secret)
        case oauth(OAuthTokenSource)
    }

    /// Creates the client and its connection pool.
    ///
    /// - Parameters:
    ///   - configuration: the account: base URL, status path template, auth, timeouts, body limit.
    ///   - logger: used at debug level only, with metadata such as `export.access_token`, `http.status`.
    ///   - maxConnectionsPerHost: the pool's soft limit on HTTP/1.1 connections per host (default 64).
    ///   - now: the wall clock, for PNAUTHINFO3 timestamps, OAuth token lifetimes and `Retry-After`
    ///     dates; injectable for tests.
    /// - Throws: ``ClientConfigurationError`` when a URL is invalid, plain `http://` points at a
    ///   non-loopback host without `allowInsecureHTTP` (`.insecureHTTP`), the status path lacks
    ///   `{accessToken}`, or a value is out of range (empty client ID, non-positive timeouts,
    ///   body limit or connection limit).
    package init(
        configuration: AccountConfiguration,
        logger: Logger,
        maxConnectionsPerHost: Int = MyPreferencesClient.defaultMaxConnectionsPerHost,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        try Self.validate(configuration, maxConnectionsPerHost: maxConnectionsPerHost)

        var httpConfiguration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: TimeAmount(configuration.connectTimeout)),
            decompression: .disabled
        )
        httpConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = maxConnectionsPerHost
        // A connect that fails (refused, unreachable) fails this poll at once instead of being retried
        // inside the pool until the connect timeout: the poll policy's error backoff (with jitter) is
        // the one retry schedule, the failure is history, and SIGTERM is not held for
        // connect_timeout_s by a poll that can never be answered (issue 17.14).
        httpConfiguration.connectionPool.retryConnectionEstablishment = false
        // tlsConfiguration stays nil: AsyncHTTPClient then uses TLSConfiguration.makeClientConfiguration(),
        // which verifies certificates and host names against the system trust roots.
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)

        self.configuration = configuration
        self.urlTemplate = StatusURL.Template(
            baseURL: configuration.baseURL, template: configuration.statusPath, clientID: configuration.clientID)
        self.retrieveTemplate = StatusURL.Template(
            baseURL: configuration.baseURL, template: configuration.retrievePath, clientID: configuration.clientID)
        self.commitTemplate = StatusURL.Template(
            baseURL: configuration.baseURL, template: configuration.commitPath, clientID: configuration.clientID)
        self.httpClient = httpClient
        self.logger = logger
        self.now = now
        switch configuration.auth {
        case .none:
            self.authorizer = .none
        case .pnauthinfo3(let userID, let secret):
            self.authorizer = .pnauthinfo3(userID: userID, secret: secret)
        case .oauth(let tokenURL, let oauthClientID, let oauthClientSecret, let userID):
            self.authorizer = .oauth(
                OAuthTokenSource(
                    httpClient: httpClient, tokenURL: tokenURL, oauthClientID: oauthClientID,
                    oauthClientSecret: oauthClientSecret, clientID: configuration.clientID.value, userID: userID,
                    requestTimeout: configuration.requestTimeout, now: now, logger: logger
                ))
        }
    }

    /// Closes the connection pool. Call once, after the last ``status(of:)`` has returned.
    ///
    /// - Throws: AsyncHTTPClient's error if the pool was already shut down.
    package func shutdown() async throws {
        try await httpClient.shutdown()
    }

    /// The status URL for `accessToken`: base URL and expanded path template joined with one `/`,
    /// client ID and access token each percent-encoded as one path segment.
    package func statusURL(for accessToken: AccessToken) -> String {
        urlTemplate.url(for: accessToken)
    }

    /// Polls the status of one export. Never throws: every failure is a ``PollOutcome``.
    ///
    /// `GET {statusURL}` with `Accept`, `User-Agent` and the scheme's `Authorization`. Each attempt
    /// must complete — response head and whole body — within `requestTimeout`. Transparent retries,
    /// at most one of each: a pooled keep-alive connection the server had already closed (no
    /// response byte received) is retried on a fresh connection; with OAuth, a 401 invalidates the
    /// bearer token, fetches a new one and retries. `latency` covers the whole call, retries and
    /// token fetches included, on the monotonic clock.
    ///
    /// With OAuth, a token endpoint that refuses the client (400/401) gives `.unauthorized` with the
    /// token endpoint's status in `httpStatus`; any other token failure gives `.transportError`.
    package func status(of accessToken: AccessToken) async -> PollResult {
        let clock = ContinuousClock()
        let start = clock.now
        let (answer, httpStatus) = await exchange(
            .GET, url: statusURL(for: accessToken), accessToken: accessToken, accept: configuration.accept,
            maxBodyBytes: configuration.maxBodyBytes, timeout: configuration.requestTimeout
        ) { body, contentType in
            StatusDecoder.decode(body.readableBytesView, contentType: contentType)
        }
        let outcome = answer.identified(as: accessToken)
        let latency = start.duration(to: clock.now)
        guard logger.logLevel <= .debug else {
            return PollResult(outcome: outcome, httpStatus: httpStatus, latency: latency)
        }
        var metadata: Logger.Metadata = [
            "export.access_token": "\(accessToken)",
            "poll.outcome": "\(outcome.kind.rawValue)",
            "poll.latency_ms": "\(latency.milliseconds)",
        ]
        if let httpStatus { metadata["http.status"] = "\(httpStatus)" }
        if case .transportError(let failure, _) = outcome { metadata["transport.failure"] = "\(failure.rawValue)" }
        logger.debug("polled export status", metadata: metadata)
        return PollResult(outcome: outcome, httpStatus: httpStatus, latency: latency)
    }

    /// The retrieve URL of one page: `{retrievePath}?limit={limit}&offset={offset}&keepAlive=true`.
    /// `keepAlive=true` always: without it the export is marked retrieved as soon as its last page is
    /// served, before mprefd has stored it.
    package func pageURL(for accessToken: AccessToken, offset: Int64, limit: Int) -> String {
        retrieveTemplate.url(for: accessToken) + "?limit=\(limit)&offset=\(offset)&keepAlive=true"
    }

    /// The commit URL: `{commitPath}?keepFiles=true|false`.
    package func commitURL(for accessToken: AccessToken, keepFiles: Bool) -> String {
        commitTemplate.url(for: accessToken) + "?keepFiles=\(keepFiles)"
    }

    /// Retrieves one page of a completed export, its body not yet decoded. Never throws: every
    /// failure is an outcome.
    ///
    /// `GET {pageURL}` with `Accept: application/json` (pages are always asked for as JSON), the
    /// scheme's `Authorization` and the same retries as ``status(of:)``; the body may be up to
    /// `maxPageBytes` and must arrive within `pageTimeout`. A 2xx is `.ok` with its body, whatever it
    /// holds (``PageBody/decoded()`` says whether it is a page).
    /// - Parameters:
    ///   - offset: 1-based index of the page's first record (the API's `offset`).
    ///   - limit: records per page (the API's `limit`).
    package func pageBody(of accessToken: AccessToken, offset: Int64, limit: Int) async -> PageBodyResult {
        let start = ContinuousClock.now
        let (outcome, httpStatus) = await exchange(
            .GET, url: pageURL(for: accessToken, offset: offset, limit: limit), accessToken: accessToken, accept: .json,
            maxBodyBytes: configuration.maxPageBytes, timeout: configuration.pageTimeout
        ) { body, _ in
            .ok(PageBody(body))
        }
        return PageBodyResult(outcome: outcome, httpStatus: httpStatus, latency: ContinuousClock.now - start)
    }

    /// Commits a retrieved export: `POST {commitURL}` with an empty body. The vendor then marks the
    /// retrieval complete and expires the token; `keepFiles` keeps its files on the server.
    /// Never throws. A 2xx is `.ok` whatever its body says.
    package func commit(_ accessToken: AccessToken, keepFiles: Bool) async -> CommitResult {
        let start = ContinuousClock.now
        let (outcome, httpStatus) = await exchange(
            .POST, url: commitURL(for: accessToken, keepFiles: keepFiles), accessToken: accessToken, accept: .json,
            maxBodyBytes: configuration.maxBodyBytes, timeout: configuration.requestTimeout
        ) { body, _ in
            .ok(CommitReceipt(excerpt: BodyExcerpt.make(body.readableBytesView)))
        }
        return CommitResult(outcome: outcome, httpStatus: httpStatus, latency: ContinuousClock.now - start)
    }

    /// The initiate URL of `segment`: `{initiatePath}` with `{clientId}` and `{segmentName}` each
    /// percent-encoded as one path segment.
    package func initiateURL(segment: SegmentName) -> String {
        StatusURL.join(
            configuration.baseURL,
            configuration.initiatePath
                .replacingOccurrences(of: "{clientId}", with: StatusURL.encodeSegment(configuration.clientID.value))
                .replacingOccurrences(of: "{segmentName}", with: StatusURL.encodeSegment(segment.value)))
    }

    /// Initiates an export of `segment`: `POST {initiateURL}` with `request`'s JSON body
    /// (`Content-Type: application/json`), the scheme's `Authorization`, within `requestTimeout`.
    /// Never throws. A 2xx is decoded as `{"AccessToken": N}` (``InitiatedExport``).
    ///
    /// Not idempotent (the API has no idempotency key), so nothing is retried that may have reached the
    /// server: no stale-connection retry; with OAuth, a 401 is retried once after refreshing the token
    /// (a 401 started nothing). What the caller may retry: `.transportError(.connect, …)` (the
    /// connection was never made) and `.unavailable` (503/429: the server asks to come back).
    package func initiate(segment: SegmentName, request: ExportRequest) async -> InitiateResult {
        let start = ContinuousClock.now
        let (outcome, httpStatus) = await exchange(
            .POST, url: initiateURL(segment: segment), accessToken: 0, accept: .json,
            maxBodyBytes: configuration.maxBodyBytes,
            timeout: configuration.requestTimeout, body: Array(request.json.utf8)
        ) { body, _ in
            InitiatedExport.decode(Array(body.readableBytesView))
        }
        return InitiateResult(outcome: outcome, httpStatus: httpStatus, latency: ContinuousClock.now - start)
    }

    /// One request with authentication and the transparent retries (a stale pooled connection once;
    /// with OAuth, a 401 once after refreshing the token); the final response is classified by
    /// ``ResponseClassifier`` with `decode` for a 2xx.
    private func exchange<Answer>(
        _ method: HTTPMethod, url: String, accessToken: AccessToken, accept: AccountConfiguration.MediaType,
        maxBodyBytes: Int,
        timeout: Duration, body requestBody: [UInt8]? = nil, decode: (ByteBuffer, String?) -> RequestOutcome<Answer>
    ) async -> (RequestOutcome<Answer>, Int?) {
        var retriedStaleConnection = false
        var retriedUnauthorized = false
        while true {
            var headers = HTTPHeaders()
            headers.add(name: "Accept", value: accept == .xml ? "application/xml" : "application/json")
            headers.add(name: "User-Agent", value: Self.userAgent)

            var bearerToken: String?
            switch authorizer {
            case .none:
                break
            case .pnauthinfo3(let userID, let secret):
                let header = PNAuthInfo3.header(
                    secret: secret.value, clientID: configuration.clientID.value, userID: userID,
                    timestamp: PNAuthInfo3.timestamp(for: now())
                )
                headers.add(name: "Authorization", value: header)
            case .oauth(let tokenSource):
                do {
                    let token = try await tokenSource.token()
                    bearerToken = token
                    headers.add(name: "Authorization", value: "Bearer \(token)")
                } catch let error as OAuthTokenError {
                    logger.debug("OAuth token unavailable", metadata: ["export.access_token": "\(accessToken)"])
                    switch error.kind {
                    case .rejected: return (.unauthorized, error.httpStatus)
                    case .unusableAnswer: return (.transportError(.other, detail: error.description), nil)
                    case .transport(let failure): return (.transportError(failure, detail: error.description), nil)
                    }
                } catch {
                    return (.transportError(.other, detail: "token endpoint: unexpected failure"), nil)
                }
            }

            switch await attempt(
                method, url: url, headers: headers, body: requestBody, maxBodyBytes: maxBodyBytes, timeout: timeout)
            {
            case .noResponse(let error):
                // A request with a body (an initiate) is never sent twice: the server may have acted on it.
                if requestBody == nil, !retriedStaleConnection, TransportFailure.isStaleConnection(error),
                    !Task.isCancelled
                {
                    retriedStaleConnection = true
                    logger.debug(
                        "pooled connection was closed; retrying once",
                        metadata: ["export.access_token": "\(accessToken)"])
                    continue
                }
                let (failure, detail) = TransportFailure.classify(error)
                return (.transportError(failure, detail: detail), nil)

            case .response(let status, let headers, let body, let receivedAt):
                if status == 401, !retriedUnauthorized, case .oauth(let tokenSource) = authorizer, let bearerToken {
                    retriedUnauthorized = true
                    logger.debug(
                        "status answered 401; refreshing the OAuth token once",
                        metadata: ["export.access_token": "\(accessToken)"])
                    await tokenSource.invalidate(bearerToken)
                    continue
                }
                switch body {
                case .success(let bytes):
                    return (
                        ResponseClassifier.outcome(
                            status: status, headers: headers, body: bytes, receivedAt: receivedAt, decode: decode),
                        status
                    )
                case .failure(let error):
                    // A 2xx needs its body; for anything else the status line decides and the body
                    // only adds detail, so a body that cannot be read is dropped.
                    if (200..<300).contains(status) {
                        let (failure, detail) = TransportFailure.classify(error)
                        return (.transportError(failure, detail: detail), status)
                    }
                    return (
                        ResponseClassifier.outcome(
                            status: status, headers: headers, body: ByteBuffer(), receivedAt: receivedAt, decode: decode
                        ), status
                    )
                }
            }
        }
    }

    /// What one HTTP exchange produced.
    private enum Attempt: Sendable {
        /// The request failed before a response head arrived (or the deadline passed).
        case noResponse(any Error)
        /// A response head arrived; `body` is the collected body or why it could not be read.
        case response(status: Int, headers: HTTPHeaders, body: Result<ByteBuffer, any Error>, receivedAt: Date)
    }

    /// One `GET url` with `headers`; collects the body (at most `maxBodyBytes`), head and body within
    /// `requestTimeout`: AsyncHTTPClient's delegate API, whose deadline covers the whole response and
    /// whose callbacks run on the connection's event loop; the calling task waits once, for the end.
    /// Cancelling the task cancels the request. A body that fails after the head keeps the head's
    /// status and headers (`.response` with `body: .failure`).
    private func attempt(
        _ method: HTTPMethod, url: String, headers: HTTPHeaders, body: [UInt8]?, maxBodyBytes: Int, timeout: Duration
    ) async -> Attempt {
        let request: HTTPClient.Request
        do {
            var headers = headers
            if let body {
                headers.add(name: "Content-Type", value: "application/json")
                request = try HTTPClient.Request(url: url, method: method, headers: headers, body: .bytes(body))
            } else {
                if method == .POST { headers.add(name: "Content-Length", value: "0") }
                request = try HTTPClient.Request(url: url, method: method, headers: headers)
            }
        } catch {
            return .noResponse(error)
        }
        let collector = StatusResponseCollector(maxBodyBytes: maxBodyBytes, now: now)
        let task = httpClient.execute(request: request, delegate: collector, deadline: .now() + TimeAmount(timeout))
        do {
            let collected = try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
            return .response(
                status: Int(collected.head.status.code), headers: collected.head.headers,
                body: .success(collected.body),
                receivedAt: collected.receivedAt)
        } catch {
            guard let (head, receivedAt) = collector.head else { return .noResponse(error) }
            return .response(
                status: Int(head.status.code), headers: head.headers, body: .failure(error), receivedAt: receivedAt)
        }
    }

    private static func validate(_ configuration: AccountConfiguration, maxConnectionsPerHost: Int) throws {
        // The client ID is a `ClientID`: checked (never empty) where it entered.
        try StatusURL.validate(
            configuration.baseURL, field: "baseURL", allowInsecureHTTP: configuration.allowInsecureHTTP)
        guard configuration.statusPath.contains("{accessToken}") else {
            throw ClientConfigurationError(
                code: .invalidStatusPath, field: "statusPath",
                description: "statusPath '\(configuration.statusPath)' has no {accessToken} placeholder; "
                    + "use e.g. '\(AccountConfiguration.defaultStatusPath)' or '{clientId}/status/Token/{accessToken}'"
            )
        }
        for (field, value) in [
            ("connectTimeout", configuration.connectTimeout), ("requestTimeout", configuration.requestTimeout),
        ]
        where value <= .zero {
            throw ClientConfigurationError(
                code: .invalidValue, field: field, description: "\(field) must be positive, got \(value)")
        }
        guard configuration.maxBodyBytes > 0 else {
            throw ClientConfigurationError(
                code: .invalidValue, field: "maxBodyBytes",
                description: "maxBodyBytes must be positive, got \(configuration.maxBodyBytes)"
            )
        }
        guard maxConnectionsPerHost > 0 else {
            throw ClientConfigurationError(
                code: .invalidValue, field: "maxConnectionsPerHost",
                description: "maxConnectionsPerHost must be positive, got \(maxConnectionsPerHost)"
            )
        }
        if case .oauth(let tokenURL, let oauthClientID, _, _) = configuration.auth {
            try StatusURL.validate(tokenURL, field: "auth.tokenURL", allowInsecureHTTP: configuration.allowInsecureHTTP)
            guard !oauthClientID.isEmpty, !oauthClientID.contains(":") else {
                throw ClientConfigurationError(
                    code: .invalidValue, field: "auth.oauthClientID",
                    description: "auth.oauthClientID must be non-empty and contain no ':' (HTTP Basic credentials)"
                )
            }
        }
    }
}

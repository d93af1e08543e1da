import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The simulator's HTTP responder: routes every request with Hummingbird's ``Router`` — the API and the OAuth
/// token endpoint through ``apiRouter(_:)`` (literal segments in any case, as in the vendor's ASP.NET routing),
/// `/_sim/*` through ``controlRouter(_:)`` — and records every API request (not `/_sim/*`).
///
/// What the router cannot say on its own is said here, as the vendor (and the simulator before it) does:
/// - 405 for a path that has a route for another method: Hummingbird answers 404 for any method without a
///   route, so such paths also have a route for ``wrongMethod``, tried when the request's own method has none;
/// - 404 `{"Message": "No HTTP resource was found that matches the request URI '…'"}` for any other API path;
/// - the prefix and the OAuth path are compared as whole strings (any case) and each segment after the prefix
///   is percent-decoded before matching: the router matches raw segments and ignores empty ones anywhere, so it
///   is given ``routerPath(_:prefix:oauthTokenPath:)`` instead of the request's path;
/// - control paths are whole strings too: one with an empty segment (`/_sim/health/`) is not routed.
struct SimulatorRouting: HTTPResponder {
    typealias Context = SimulatorRequestContext

    let simulator: SimulatorResponder
    let api: RouterResponder<Context>
    let control: RouterResponder<Context>

    init(_ simulator: SimulatorResponder) {
        self.simulator = simulator
        self.api = Self.apiRouter(simulator).buildResponder()
        self.control = Self.controlRouter(simulator).buildResponder()
    }

    /// The method of the 405 routes: a valid token no client sends (one that does gets the 405 it would get anyway).
    static let wrongMethod = HTTPRequest.Method("SIMULATOR-WRONG-METHOD") ?? .trace

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        if path == "/_sim" || path.hasPrefix("/_sim/") {
            if !path.contains("//"), !path.hasSuffix("/"),
                let response = try await Self.route(request, context: context, with: control)
            {
                return response
            }
            return simulator.unroutedControl(request, path: path)
        }
        let record = RequestRecord(
            RecordedRequest(
                time: simulator.now(), method: request.method.rawValue, path: path,
                authScheme: Authenticator.presentedScheme(request.headers[.authorization]), status: nil
            ))
        simulator.state.countReceivedRequest()
        defer { simulator.state.countFinishedRequest() }
        var context = context
        context.record = record
        do {
            let routed = Self.request(
                request, method: request.method,
                path: Self.routerPath(path, prefix: simulator.prefix, oauthTokenPath: simulator.oauthTokenPath))
            let response =
                try await Self.route(routed, context: context, with: api)
                ?? SimulatorResponder.message(404, "No HTTP resource was found that matches the request URI '\(path)'.")
            record.current.status = response.status.code
            record.current.retryAfter = response.headers[.retryAfter]
            simulator.finish(record.current)
            return response
        } catch is DroppedConnection {
            simulator.finish(record.current)
            // Closing makes the server's write of the placeholder below fail; the client sees the
            // connection close without any response bytes.
            try? await context.channel.close(mode: .all)
            return Response(status: .internalServerError)
        }
    }

    /// The answer of `router`'s route for the request's method, else of its ``wrongMethod`` route (405); nil
    /// when the path has neither. An error a route throws is thrown as is (answered by the server, unrecorded).
    static func route(_ request: Request, context: Context, with router: RouterResponder<Context>) async throws
        -> Response?
    {
        for method in [request.method, wrongMethod] {
            do {
                return try await router.respond(
                    to: Self.request(request, method: method, path: request.uri.path), context: context)
            } catch RouterEscape.noRoute {
                continue
            } catch RouterEscape.thrown(let error) {
                throw error
            }
        }
        return nil
    }

    /// The path the API router matches for the request path `path`: `/oauth` for the OAuth token path (whole,
    /// any case); `/api/{segments}` under the prefix (whole, any case), the segments after it non-empty and
    /// percent-decoded, then `%`, `/`, `?` and `#` escaped again so that each stays one segment; `/` (no route)
    /// for anything else.
    static func routerPath(_ path: String, prefix: String, oauthTokenPath: String) -> String {
        if path == oauthTokenPath || path.lowercased() == oauthTokenPath.lowercased() { return "/oauth" }
        guard path.count > prefix.count, path.lowercased().hasPrefix(prefix.lowercased()) else { return "/" }
        let rest = path.dropFirst(prefix.count)
        guard rest.first == "/" else { return "/" }
        let segments = rest.split(separator: "/").map { raw in
            var segment = ""
            for character in String(raw).removingPercentEncoding ?? String(raw) {
                switch character {
                case "%": segment += "%25"
                case "/": segment += "%2F"
                case "?": segment += "%3F"
                case "#": segment += "%23"
                default: segment.append(character)
                }
            }
            return segment
        }
        return "/api/" + segments.joined(separator: "/")
    }

    /// `request` with another method and path (its query kept).
    static func request(_ request: Request, method: HTTPRequest.Method, path: String) -> Request {
        var head = request.head
        head.method = method
        head.path = path + (request.uri.query.map { "?" + $0 } ?? "")
        return Request(head: head, body: request.body)
    }
}

/// Thrown by a route after it decided to close the connection without an answer.
struct DroppedConnection: Error {}

/// What a router would otherwise answer itself, handed to ``SimulatorRouting`` (a router answers these
/// errors, and only these, itself).
enum RouterEscape: Error {
    /// The router has no route for the path and method.
    case noRoute
    /// An error a route threw.
    case thrown(any Error)
}

/// Turns the router's own "not found" and a route's ``HTTPResponseError`` into ``RouterEscape``.
struct RouterEscapeMiddleware: RouterMiddleware {
    typealias Context = SimulatorRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            // No route throws it: routes answer 404 with a response.
            throw RouterEscape.noRoute
        } catch let error as any HTTPResponseError {
            throw RouterEscape.thrown(error)
        }
    }
}

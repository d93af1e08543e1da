import Foundation
import MprefTestSupport
import NIOCore
import NIOPosix
import Synchronization

/// A tiny purpose-built HTTP/1.1 server on loopback for the faults the MyPreferences simulator
/// cannot produce: it writes raw bytes, so it can drip a body, reset a connection mid-body, hang,
/// send 10 MiB, or redirect. Every request is logged (arrival time, access token) for timing checks.
///
/// The access token is the path segment before `/Status`; ``behaviour`` maps it to an answer.
final class FaultServer: Sendable {
    /// How the server answers one request.
    enum Behaviour: Sendable {
        /// `200 application/json` whose `length`-byte body arrives one byte every `interval`.
        case drip(length: Int, interval: TimeAmount)
        /// A `200` head announcing 1,000 bytes, 100 of them, then a TCP reset.
        case resetMidBody
        /// Reads the request and never answers.
        case hang
        /// `200 application/json` with a `bytes`-byte body (a valid status document padded with spaces).
        case bigBody(bytes: Int)
        /// `302 Found` to `location`.
        case redirect(location: String)
        /// Exactly this status, content type and body.
        case respond(status: Int, contentType: String, body: String)
    }

    struct LoggedRequest: Sendable {
        var time: Date
        var accessToken: Int64?
    }

    let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let log: RequestLog

    /// The request log, shared with the connection handlers.
    private final class RequestLog: Sendable {
        let entries = Mutex<[LoggedRequest]>([])
    }

    private init(port: Int, group: MultiThreadedEventLoopGroup, channel: any Channel, log: RequestLog) {
        self.port = port
        self.group = group
        self.channel = channel
        self.log = log
    }

    /// Starts listening on `127.0.0.1` (ephemeral port).
    static func start(behaviour: @escaping @Sendable (Int64?) -> Behaviour) async throws -> FaultServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let log = RequestLog()
        let recorder: @Sendable (LoggedRequest) -> Void = { entry in log.entries.withLock { $0.append(entry) } }
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FaultHandler(behaviour: behaviour, record: recorder))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return FaultServer(port: channel.localAddress?.port ?? 0, group: group, channel: channel, log: log)
    }

    var baseURL: String { "http://127.0.0.1:\(port)/Profiles" }

    /// Requests seen so far, oldest first.
    var requests: [LoggedRequest] { log.entries.withLock { $0 } }

    func requests(for token: Int64) -> [LoggedRequest] { requests.filter { $0.accessToken == token } }

    /// Closes the listener and every connection (hung ones included).
    func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

/// Reads one request head per connection and answers as its behaviour says.
private final class FaultHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let behaviour: @Sendable (Int64?) -> FaultServer.Behaviour
    private let record: @Sendable (FaultServer.LoggedRequest) -> Void
    private var head = ""
    private var answered = false

    init(
        behaviour: @escaping @Sendable (Int64?) -> FaultServer.Behaviour,
        record: @escaping @Sendable (FaultServer.LoggedRequest) -> Void
    ) {
        self.behaviour = behaviour
        self.record = record
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        var buffer = unwrapInboundIn(data)
        head += buffer.readString(length: buffer.readableBytes) ?? ""
        guard let end = head.range(of: "\r\n\r\n") else { return }
        answered = true
        let requestLine = head[..<end.lowerBound].split(separator: "\r\n").first ?? ""
        let path = requestLine.split(separator: " ").dropFirst().first ?? ""
        let segments = path.split(separator: "/")
        let token = segments.firstIndex(where: { $0.lowercased() == "status" }).flatMap {
            $0 > 0 ? Int64(segments[$0 - 1]) : nil
        }
        record(.init(time: Date(), accessToken: token))
        answer(behaviour(token), channel: context.channel)
    }

    private func answer(_ behaviour: FaultServer.Behaviour, channel: any Channel) {
        func send(_ text: String) -> EventLoopFuture<Void> {
            channel.writeAndFlush(ByteBuffer(string: text))
        }
        switch behaviour {
        case .hang:
            break
        case .respond(let status, let contentType, let body):
            let text =
                "HTTP/1.1 \(status) X\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            send(text).whenComplete { _ in channel.close(promise: nil) }
        case .redirect(let location):
            send("HTTP/1.1 302 Found\r\nLocation: \(location)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .whenComplete { _ in channel.close(promise: nil) }
        case .bigBody(let bytes):
            let document = "{\"Status\":\"Complete\",\"RowCount\":1,\"ByteCount\":1}"
            let body = document + String(repeating: " ", count: max(0, bytes - document.utf8.count))
            send(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
            )
            .flatMap { send(body) }
            .whenComplete { _ in channel.close(promise: nil) }
        case .resetMidBody:
            send(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                    + "{\"Status\":\"Processing\"," + String(repeating: " ", count: 77)
            )
            .whenComplete { _ in
                // SO_LINGER 0: close sends RST instead of FIN.
                if let provider = channel as? any SocketOptionProvider {
                    provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
                        channel.close(promise: nil)
                    }
                } else {
                    channel.close(promise: nil)
                }
            }
        case .drip(let length, let interval):
            send(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\nConnection: close\r\n\r\n"
            )
            .whenSuccess { Self.drip(remaining: length, interval: interval, channel: channel) }
        }
    }

    private static func drip(remaining: Int, interval: TimeAmount, channel: any Channel) {
        guard remaining > 0, channel.isActive else {
            channel.close(promise: nil)
            return
        }
        channel.eventLoop.scheduleTask(in: interval) {
            channel.writeAndFlush(ByteBuffer(string: " ")).whenComplete { result in
                if case .success = result {
                    drip(remaining: remaining - 1, interval: interval, channel: channel)
                } else {
                    channel.close(promise: nil)
                }
            }
        }
    }
}

/// An HTTPS server with a self-signed certificate for a name that is not the host: `openssl
/// s_server`, a real TLS stack, certificate made at test time with `openssl req`. A client that
/// verifies certificates (mprefd always does) must fail the handshake.
struct BadCertificateServer {
    let child: ChildProcess
    let port: Int
    var baseURL: String { "https://127.0.0.1:\(port)/Profiles" }

    /// Whether `openssl` is installed.
    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") }

    static func start(in scene: ReliabilityScene) async throws -> BadCertificateServer {
        let dir = scene.directory.path
        let made = try await scene.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/bad.key", "-out", "\(dir)/bad.crt",
                "-days", "1", "-subj", "/CN=not-this-host.invalid",
            ], stdin: nil, environment: nil)
        guard made.status == 0 else { throw SceneFailure("openssl req failed: \(made.output)") }
        let child = try scene.startChild(
            "/usr/bin/openssl",
            [
                "s_server", "-accept", "127.0.0.1:0", "-cert", "\(dir)/bad.crt", "-key", "\(dir)/bad.key", "-www",
            ], logName: "s_server")
        var port: Int?
        _ = await scene.eventually(timeout: .seconds(15)) {
            // "ACCEPT 127.0.0.1:PORT"
            if let line = child.log.split(separator: "\n").first(where: { $0.hasPrefix("ACCEPT") }),
                let text = line.split(separator: ":").last
            {
                port = Int(text.trimmingCharacters(in: .whitespaces))
            }
            return port != nil || !child.isRunning
        }
        guard let port else { throw SceneFailure("openssl s_server did not report its port: \(child.log)") }
        return BadCertificateServer(child: child, port: port)
    }
}

import NIOCore
import NIOHTTP1
import NIOPosix

/// A loopback HTTP/1.1 server that answers every request with a constant status document, so that
/// it is never what limits a benchmark: no routing, no allocation per request beyond NIO's own.
///
/// Answers `{"AccessToken":0,"Status":"Processing",…}` to every request, except that with
/// `completeFrom` an access token ≥ it (the path segment before `Status`) gets `Complete`.
enum FixedAnswerServer {
    static let processingBody = #"{"AccessToken":0,"Status":"Processing","RowCount":null,"ByteCount":null}"#
    static let completeBody = #"{"AccessToken":0,"Status":"Complete","RowCount":10,"ByteCount":1000}"#

    /// Binds 127.0.0.1:0 with `threads` event loops and returns the bound channel.
    static func start(threads: Int, completeFrom: Int64?) async throws -> (
        channel: any Channel, group: MultiThreadedEventLoopGroup
    ) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(FixedAnswerHandler(completeFrom: completeFrom))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return (channel, group)
    }
}

final class FixedAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let completeFrom: Int64?
    private var keepAlive = true
    private var complete = false
    private let processing: ByteBuffer
    private let completed: ByteBuffer

    init(completeFrom: Int64?) {
        self.completeFrom = completeFrom
        processing = ByteBuffer(string: FixedAnswerServer.processingBody)
        completed = ByteBuffer(string: FixedAnswerServer.completeBody)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            if let completeFrom {
                complete = (Self.accessToken(in: head.uri) ?? 0) >= completeFrom
            }
        case .body:
            break
        case .end:
            let body = complete ? completed : processing
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
            headers.add(name: "Content-Length", value: String(body.readableBytes))
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil
            )
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            if keepAlive {
                context.write(wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    /// The path segment before the last (`…/Export/{accessToken}/Status`).
    static func accessToken(in uri: String) -> Int64? {
        let parts = uri.split(separator: "/")
        guard parts.count >= 2 else { return nil }
        return Int64(parts[parts.count - 2])
    }
}

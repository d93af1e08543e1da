import Foundation
import Synchronization
#if canImport(Glibc)
    import Glibc
#endif

/// One request as the loopback server read it.
struct RecordedRequest: Sendable {
    var method: String
    var target: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// 0-based index of the TCP connection (in accept order).
    var connection: Int
    /// 0-based index of this request on its connection (keep-alive reuse makes it > 0).
    var indexOnConnection: Int

    func header(_ name: String) -> String? {
        headers.first(where: { $0.name.lowercased() == name.lowercased() })?.value
    }

    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// What the loopback server does with a request.
enum ServerReply: Sendable {
    /// A complete response; `Content-Length` is added when `headers` has none.
    case respond(status: Int, headers: [(String, String)] = [], body: [UInt8] = [])
    /// These exact bytes, then optionally close the connection.
    case raw([UInt8], thenClose: Bool)
    /// Close the connection without answering.
    case close
    /// Never answer; the connection stays open until the client or `stop()` closes it.
    case hang

    static func json(_ text: String, status: Int = 200, contentType: String = "application/json; charset=utf-8")
        -> ServerReply
    {
        .respond(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }
}

/// A tiny blocking-socket HTTP/1.1 server on 127.0.0.1 (port chosen by the kernel), one thread per
/// connection, serving what `handler` says and recording every request. Test use only.
final class LoopbackServer: Sendable {
    let port: Int
    private let listenFD: Int32
    private let handler: @Sendable (RecordedRequest) -> ServerReply
    /// When set, every connection is sent these bytes at once and closed, without reading a request.
    private let greeting: [UInt8]?
    private let state = Mutex(State())

    private struct State {
        var requests: [RecordedRequest] = []
        var connections = 0
        var openFDs: Set<Int32> = []
        var stopped = false
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var requests: [RecordedRequest] { state.withLock { $0.requests } }
    var connectionCount: Int { state.withLock { $0.connections } }

    init(greeting: [UInt8]? = nil, handler: @escaping @Sendable (RecordedRequest) -> ServerReply) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        self.listenFD = fd
        self.handler = handler
        self.greeting = greeting
        let server = self
        Thread.detachNewThread { server.acceptLoop() }
    }

    /// Stops accepting and closes every open connection.
    func stop() {
        let fds: Set<Int32> = state.withLock { state in
            guard !state.stopped else { return [] }
            state.stopped = true
            return state.openFDs
        }
        shutdown(listenFD, Int32(SHUT_RDWR))
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    deinit {
        close(listenFD)
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let index: Int? = state.withLock { state in
                guard !state.stopped else { return nil }
                state.openFDs.insert(fd)
                state.connections += 1
                return state.connections - 1
            }
            guard let index else {
                close(fd)
                return
            }
            let server = self
            Thread.detachNewThread { server.serve(fd: fd, connection: index) }
        }
    }

    private func serve(fd: Int32, connection: Int) {
        defer {
            state.withLock { _ = $0.openFDs.remove(fd) }
            close(fd)
        }
        if let greeting {
            _ = writeAll(fd: fd, bytes: greeting)
            return
        }
        var buffer: [UInt8] = []
        var requestIndex = 0
        while true {
            guard let request = readRequest(fd: fd, buffer: &buffer, connection: connection, index: requestIndex) else {
                return
            }
            requestIndex += 1
            state.withLock { $0.requests.append(request) }
            switch handler(request) {
            case .respond(let status, let headers, let body):
                var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
                for (name, value) in headers { head += "\(name): \(value)\r\n" }
                if !headers.contains(where: { $0.0.lowercased() == "content-length" }) {
                    head += "Content-Length: \(body.count)\r\n"
                }
                head += "\r\n"
                guard writeAll(fd: fd, bytes: Array(head.utf8) + body) else { return }
                if headers.contains(where: { $0.0.lowercased() == "connection" && $0.1.lowercased() == "close" }) {
                    return
                }
            case .raw(let bytes, let thenClose):
                guard writeAll(fd: fd, bytes: bytes), !thenClose else { return }
            case .close:
                return
            case .hang:
                var scratch = [UInt8](repeating: 0, count: 4096)
                while recv(fd, &scratch, scratch.count, 0) > 0 {}
                return
            }
        }
    }

    private func readRequest(fd: Int32, buffer: inout [UInt8], connection: Int, index: Int) -> RecordedRequest? {
        let terminator: [UInt8] = [13, 10, 13, 10]
        var chunk = [UInt8](repeating: 0, count: 65_536)
        func fill() -> Bool {
            let count = recv(fd, &chunk, chunk.count, 0)
            guard count > 0 else { return false }
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
        var headEnd: Int?
        while headEnd == nil {
            if buffer.count >= 4 {
                headEnd = (0...(buffer.count - 4)).first(where: { buffer[$0..<$0 + 4].elementsEqual(terminator) })
            }
            if headEnd == nil, !fill() { return nil }
        }
        guard let headEnd else { return nil }
        let headText = String(decoding: buffer[0..<headEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        let headers: [(name: String, value: String)] = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let contentLength =
            headers.first(where: { $0.name.lowercased() == "content-length" }).flatMap { Int($0.value) } ?? 0
        let bodyStart = headEnd + 4
        while buffer.count < bodyStart + contentLength {
            if !fill() { return nil }
        }
        let body = Array(buffer[bodyStart..<bodyStart + contentLength])
        buffer.removeFirst(bodyStart + contentLength)
        return RecordedRequest(
            method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body,
            connection: connection, indexOnConnection: index
        )
    }

    private func writeAll(fd: Int32, bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

/// A port on 127.0.0.1 with nothing listening: bound (never listened on), then released.
func closedLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

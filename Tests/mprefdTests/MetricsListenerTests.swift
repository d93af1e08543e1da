import AsyncHTTPClient
import Foundation
import MprefTestSupport
import NIOCore
import NIOHTTP1
import Testing

/// Issue 17.6: the metrics listener — a port that cannot be bound is a configuration error naming
/// `metrics.listen`; idle connections are closed and capped; HEAD answers like GET, other methods 405.
@Suite(.serialized) struct MetricsListenerTests {
    /// A TCP socket listening on a free loopback port, to occupy it.
    final class Occupied {
        let fd: Int32
        let port: Int
        init() throws {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, length) }
            }
            guard bound == 0, listen(s, 8) == 0 else { close(s); throw OpsTestFailure("cannot listen: errno \(errno)") }
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &length) }
            }
            fd = s
            port = Int(UInt16(bigEndian: address.sin_port))
        }
        deinit { close(fd) }
    }

    /// A connected TCP socket to 127.0.0.1:`port` (blocking), or -1.
    static func connectLoopback(port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if connected != 0 { close(fd); return -1 }
        return fd
    }

    /// Open descriptors of process `pid`.
    static func descriptors(of pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    @Test func aMetricsPortInUseIsAConfigurationErrorNamingTheKey() async throws {
        let scene = try await DaemonScene.start()
        defer { Task { await scene.finish() } }
        let occupied = try Occupied()
        try scene.writeConfig(extra: "metrics:\n  listen: 127.0.0.1:\(occupied.port)")
        let run = try scene.startDaemon()
        let status = await run.waitForExit(timeout: .seconds(20))
        if status == nil { _ = await run.stop() }
        #expect(status == 78, "\(run.log)")
        #expect(run.log.contains("mprefd: error: metrics.listen 127.0.0.1:\(occupied.port)"), "\(run.log)")
        #expect(try await scene.count("SELECT count(*) FROM polls") == 0)

        let check = try await scene.mprefd(["check-config"])
        #expect(check.status == 78, "\(check.stdout)\n\(check.stderr)")
        #expect(check.stderr.contains("metrics.listen"), "\(check.stderr)")
    }

    @Test func headAnswersLikeGetOtherMethods405IdleConnectionsAreClosedAndCapped() async throws {
        let scene = try await DaemonScene.start()
        let port = try PackagingTools.freeTCPPort()
        try scene.writeConfig(extra: "metrics:\n  listen: 127.0.0.1:\(port)")
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        let listening = await scene.eventually {
            let fd = Self.connectLoopback(port: port)
            if fd >= 0 { close(fd); return true }
            return !daemon.isRunning
        }
        #expect(listening && daemon.isRunning, "\(daemon.log)")

        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        func send(_ method: HTTPMethod) async throws -> (
            status: Int, contentType: String?, allow: String?, body: String
        ) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics")
            request.method = method
            let response = try await client.execute(request, timeout: .seconds(10))
            let body = String(buffer: try await response.body.collect(upTo: 4 << 20))
            return (
                Int(response.status.code), response.headers.first(name: "Content-Type"),
                response.headers.first(name: "Allow"), body
            )
        }
        let get: (status: Int, contentType: String?, allow: String?, body: String)
        let head: (status: Int, contentType: String?, allow: String?, body: String)
        var refusals: [(HTTPMethod, Int, String?)] = []
        do {
            get = try await send(.GET)
            head = try await send(.HEAD)
            for method in [HTTPMethod.POST, .PUT, .DELETE] {
                let refused = try await send(method)
                refusals.append((method, refused.status, refused.allow))
            }
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
        #expect(get.status == 200)
        #expect(get.body.contains("mprefd_tokens"))
        #expect(head.status == 200)
        #expect(head.contentType == get.contentType)
        #expect(head.body.isEmpty)
        for (method, status, allow) in refusals {
            #expect(status == 405, "\(method)")
            #expect(allow == "GET, HEAD", "\(method)")
        }

        // An idle connection is closed by the server (read returns 0) within the idle timeout.
        let idle = Self.connectLoopback(port: port)
        #expect(idle >= 0)
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        _ = setsockopt(idle, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        let started = ContinuousClock.now
        let read = recv(idle, &byte, 1, 0)
        close(idle)
        #expect(read == 0, "the idle connection was not closed by the server (recv \(read), errno \(errno))")
        #expect(ContinuousClock.now - started < .seconds(25))

        // Many idle connections: the daemon accepts at most the cap; the rest wait in the backlog.
        let before = Self.descriptors(of: daemon.pid)
        var sockets: [Int32] = []
        for _ in 0..<60 { sockets.append(Self.connectLoopback(port: port)) }
        defer { for fd in sockets where fd >= 0 { close(fd) } }
        // Nothing to await here: the point is what does NOT happen (more accepts); give the server
        // half a second to accept whatever it would.
        try await Task.sleep(for: .milliseconds(500))
        let during = Self.descriptors(of: daemon.pid)
        #expect(during - before <= 20, "descriptors \(before) → \(during) with 60 idle connections")
        #expect(daemon.isRunning)
    }
}

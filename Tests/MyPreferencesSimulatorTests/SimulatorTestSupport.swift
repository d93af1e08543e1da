import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import MyPreferencesSimulator

/// A settable wall clock for the simulator's `now`.
final class TestClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_709_622_489)) {  // 2024-03-05T07:08:09Z
        current = Mutex(start)
    }

    var now: Date { current.withLock { $0 } }

    func advance(by seconds: TimeInterval) {
        current.withLock { $0 += seconds }
    }

    var reader: @Sendable () -> Date {
        { self.now }
    }
}

struct SimpleResponse {
    var status: Int
    var headers: HTTPHeaders
    var body: String

    func header(_ name: String) -> String? { headers.first(name: name) }
}

enum TestHTTP {
    static let logger: Logger = {
        var logger = Logger(label: "MyPreferencesSimulatorTests")
        logger.logLevel = .warning
        return logger
    }()

    /// Sends one request over loopback and collects the whole answer.
    static func send(
        _ url: String, method: HTTPMethod = .GET, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> SimpleResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return SimpleResponse(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
    }
}

/// Starts a simulator, runs `body`, and stops it whatever happens.
func withSimulator<T>(
    _ configuration: SimulatorConfiguration = SimulatorConfiguration(),
    _ body: (MyPreferencesSimulator) async throws -> T
) async throws -> T {
    let simulator = try await MyPreferencesSimulator.start(configuration, logger: TestHTTP.logger)
    do {
        let result = try await body(simulator)
        await simulator.stop()
        return result
    } catch {
        await simulator.stop()
        throw error
    }
}

extension MyPreferencesSimulator {
    /// `GET {baseURL}/Async/{clientID}/Export/{accessToken}/Status`.
    func pollStatus(clientID: String = "ACME_Co", accessToken: String, headers: [(String, String)] = []) async throws
        -> SimpleResponse
    {
        try await TestHTTP.send("\(baseURL)/Async/\(clientID)/Export/\(accessToken)/Status", headers: headers)
    }

    /// `GET http://127.0.0.1:PORT{path}` for control endpoints.
    func control(_ path: String, method: HTTPMethod = .GET, body: String? = nil) async throws -> SimpleResponse {
        try await TestHTTP.send("http://127.0.0.1:\(port)\(path)", method: method, body: body)
    }
}

/// Decodes a JSON object body.
func jsonObject(_ text: String) throws -> [String: Any] {
    let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try #require(value as? [String: Any])
}

/// The IMF-fixdate a conforming HTTP-date parser reads (independent of the simulator's formatter).
func httpDateFormatter() -> DateFormatter {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return formatter
}

import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

@testable import MyPreferencesSimulator
import NIOHTTP1

@Suite("Export download faults")
struct DownloadFaultTests {
    /// A 30-record export of token 7, polled to `Complete`, with `faults` on its pages.
    private func withFaultyExport(
        _ faults: [PageFault], expireAfterPages: Int? = nil, _ body: (MyPreferencesSimulator) async throws -> Void
    ) async throws {
        try await withSimulator { sim async throws in
            await sim.setScenario(
                .complete(records: 30, export: ExportOptions(pages: faults, expireAfterPages: expireAfterPages)),
                accessToken: 7)
            try await sim.expectStatus("Complete", accessToken: 7)
            try await body(sim)
        }
    }

    private func pagesServed(_ sim: MyPreferencesSimulator) async throws -> Int {
        try #require(await sim.export(accessToken: 7, clientID: "ACME_Co")).pagesServed
    }

    @Test("unavailable: 503 with Retry-After `times` times, then the page; only the page counts as served")
    func unavailable() async throws {
        try await withFaultyExport([PageFault(offset: 11, .unavailable(retryAfter: RetryAfter(seconds: 1)), times: 2)])
        { sim in
            #expect(try await sim.retrievePage(accessToken: 7, offset: 1, limit: 10, keepAlive: true).status == 200)
            for _ in 0..<2 {
                let response = try await sim.retrievePage(accessToken: 7, offset: 11, limit: 10, keepAlive: true)
                #expect(response.status == 503)
                #expect(response.header("Retry-After") == "1")
            }
            #expect(try await sim.retrievePage(accessToken: 7, offset: 11, limit: 10, keepAlive: true).status == 200)
            #expect(try await pagesServed(sim) == 2)
        }
    }

    @Test("server_error, http and drop replace the page once")
    func replacingFaults() async throws {
        try await withFaultyExport([
            PageFault(offset: 1, .serverError), PageFault(offset: 1, .http(code: 401, body: nil)),
            PageFault(offset: 1, .http(code: 404, body: "{\"Message\":\"gone\"}")), PageFault(offset: 1, .drop),
        ]) { sim in
            let error = try await sim.retrievePage(accessToken: 7, keepAlive: true)
            #expect(error.status == 500)
            #expect(try jsonObject(error.body)["Message"] is String)
            #expect(try await sim.retrievePage(accessToken: 7, keepAlive: true).status == 401)
            let notFound = try await sim.retrievePage(accessToken: 7, keepAlive: true)
            #expect((notFound.status, notFound.body) == (404, "{\"Message\":\"gone\"}"))
            await #expect(throws: (any Error).self) { try await sim.retrievePage(accessToken: 7, keepAlive: true) }
            #expect(try await sim.retrievePage(accessToken: 7, keepAlive: true).status == 200)
            #expect(try await pagesServed(sim) == 1)
            let statuses = await sim.requests().filter { $0.path.contains("/Segment/") }.map(\.status)
            #expect(statuses == [500, 401, 404, nil, 200])
        }
    }

    @Test("reset: the head and part of the body, then the connection closes; without keepAlive the export is lost")
    func reset() async throws {
        try await withFaultyExport([PageFault(offset: 21, .reset(afterBytes: 100))]) { sim in
            #expect(try await sim.retrievePage(accessToken: 7, offset: 1, limit: 20).status == 200)
            let request = HTTPClientRequest(url: "\(sim.baseURL)/Async/ACME_Co/Export/Segment/7?offset=21&limit=20")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            #expect(response.status == .ok)
            let length = try #require(response.headers.first(name: "Content-Length").flatMap { Int($0) })
            #expect(length > 100)
            var received = 0
            await #expect(throws: (any Error).self) {
                for try await chunk in response.body { received += chunk.readableBytes }
            }
            #expect(received <= 100)
            // The server served the last page: without keepAlive the export is now retrieved.
            try await sim.expectStatus("Retrieved", accessToken: 7)
            #expect(try await pagesServed(sim) == 2)
        }
    }

    @Test("slow: the same body, dripped over delay_ms")
    func slow() async throws {
        try await withFaultyExport([PageFault(offset: 1, .slow(delay: .milliseconds(300), chunks: 4))]) { sim in
            let clock = ContinuousClock()
            let start = clock.now
            let slow = try await sim.retrievePage(accessToken: 7, keepAlive: true)
            #expect(clock.now - start >= .milliseconds(250))
            let normal = try await sim.retrievePage(accessToken: 7, keepAlive: true)
            #expect(slow.status == 200)
            #expect(slow.body == normal.body)
        }
    }

    @Test("short: one record fewer than Count; wrong_total: TotalResults + 1; both once")
    func alteredPages() async throws {
        try await withFaultyExport([PageFault(offset: 11, .short), PageFault(offset: 21, .wrongTotal)]) { sim in
            let short = try DownloadedPage(
                try await sim.retrievePage(accessToken: 7, offset: 11, limit: 10, keepAlive: true).body)
            let full = try DownloadedPage(
                try await sim.retrievePage(accessToken: 7, offset: 11, limit: 10, keepAlive: true).body)
            #expect((short.count, short.records.count, full.records.count) == (10, 9, 10))
            #expect(short.records == Array(full.records.prefix(9)))
            let wrong = try DownloadedPage(
                try await sim.retrievePage(accessToken: 7, offset: 21, limit: 10, keepAlive: true).body)
            #expect((wrong.total, wrong.count, wrong.hasMore) == (31, 10, false))
            let right = try DownloadedPage(
                try await sim.retrievePage(accessToken: 7, offset: 21, limit: 10, keepAlive: true).body)
            #expect(right.total == 30)
        }
    }

    @Test("expire_after_pages: the export expires mid-download; status Expired, retrieve and commit 404")
    func expiresMidDownload() async throws {
        try await withFaultyExport([], expireAfterPages: 2) { sim in
            #expect(try await sim.retrievePage(accessToken: 7, offset: 1, limit: 10, keepAlive: true).status == 200)
            try await sim.expectStatus("Complete", accessToken: 7)
            #expect(try await sim.retrievePage(accessToken: 7, offset: 11, limit: 10, keepAlive: true).status == 200)
            let status = try await sim.expectStatus("Expired", accessToken: 7)
            #expect((status["RowCount"] as? NSNumber)?.int64Value == 30)
            let expired = try await sim.retrievePage(accessToken: 7, offset: 21, limit: 10, keepAlive: true)
            #expect((expired.status, expired.body) == (404, "{\"Message\":\"The export has expired.\"}"))
            #expect(try await sim.commitExport(accessToken: 7).status == 404)
            #expect(try #require(await sim.export(accessToken: 7, clientID: "ACME_Co")).phase == "expired")
        }
    }
}

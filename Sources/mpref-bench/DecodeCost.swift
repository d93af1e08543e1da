import AsyncHTTPClient
import Foundation
import MyPreferences
import NIOCore
import NIOHTTP1

/// `mpref-bench decode [--runs 3] [--page-size 1000]`: what decoding one retrieve answer costs
/// ``PageDecoder`` alone — the validation and byte-for-byte copy of its records that sit on a
/// download's critical path between a page's arrival and the request for the next one. Pages are
/// fetched once from a real `mpref-sim` (ten pages spread over a 100,000-record export), then each
/// is decoded 50 times per run in this process; no HTTP or disk in the timed part.
enum DecodeCost {
    static func run(_ options: Options) async throws {
        let pageSize = options.pageSize ?? 1000
        let records = 100_000
        let root = try Bench.freshDirectory("decode")
        let scenarios = root + "/scenarios.json"
        try "{\"scenarios\": [\(Download.scenarioEntry(token: 3_000_001, records: records))]}\n".write(
            toFile: scenarios, atomically: true, encoding: .utf8)
        let sim = try SimProcess(
            binary: Bench.binDirectory + "/mpref-sim", scenarios: scenarios, directory: root, log: root + "/sim.log")
        defer { sim.stop() }
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var status = HTTPClientRequest(url: "\(sim.baseURL)/Async/\(Download.clientID)/Export/3000001/Status")
        status.headers.add(name: "Accept", value: "application/json")
        _ = try await http.execute(status, timeout: .seconds(30)).body.collect(upTo: 1 << 20)
        var pages: [[UInt8]] = []
        for index in 0..<10 {
            let offset = 1 + index * (records / 10)
            var request = HTTPClientRequest(
                url: "\(sim.baseURL)/Async/\(Download.clientID)/Export/Segment/3000001"
                    + "?limit=\(pageSize)&offset=\(offset)&keepAlive=true")
            request.headers.add(name: "Accept", value: "application/json")
            let body = try await http.execute(request, timeout: .seconds(60)).body.collect(upTo: 256 << 20)
            pages.append(Array(body.readableBytesView))
        }
        try await http.shutdown()
        let bytes = pages.reduce(0) { $0 + $1.count }
        print("## Decoding a page (PageDecoder alone)\n")
        print(
            "\(pages.count) pages of \(pageSize) records from `mpref-sim` (\(bytes / pages.count) bytes each on average), each decoded 50 times per run in one thread; ms per page.\n"
        )
        print("| run | median ms per page | best ms per page | MB/s at the median |")
        print("|---|---|---|---|")
        var medians: [Double] = []
        for run in 1...options.runs {
            var times: [Double] = []
            for _ in 0..<50 {
                for page in pages {
                    let t0 = Bench.monotonicSeconds()
                    let outcome = PageDecoder.decode(page)
                    times.append(Bench.monotonicSeconds() - t0)
                    guard case .ok(let decoded) = outcome, decoded.records == pageSize else {
                        throw BenchError("a simulator page did not decode to \(pageSize) records")
                    }
                }
            }
            let median = Bench.median(times)
            medians.append(median)
            let best = times.min() ?? median
            let rate = Double(bytes) / Double(pages.count) / median / 1e6
            print(
                "| \(run) | \(String(format: "%.3f", median * 1000)) | \(String(format: "%.3f", best * 1000)) | \(String(format: "%.0f", rate)) |"
            )
            fflush(nil)
        }
        print("\n- median of runs: **\(String(format: "%.3f", Bench.median(medians) * 1000)) ms per page**\n")
    }
}

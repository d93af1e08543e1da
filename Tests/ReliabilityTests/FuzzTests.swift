import Foundation
import MprefCore
@testable import MyPreferences
import NIOCore
import NIOHTTP1
import Testing

extension Reliability {
    /// Seeded fuzzing of the status decoders (JSON, XML), the response classifier and the
    /// `Retry-After` parser: 100,000 cases each with `MPREFD_RELIABILITY=full` (3,000 in the fast
    /// subset, as the poll-path fuzzer; `FUZZ_CASES=N` overrides). Every case has its own seed (printed on failure — also on
    /// a crash, by a signal handler), so `FUZZ_SEED=S` replays one case, and a failing seed becomes
    /// a regular test by adding it to ``FuzzRegressions/seeds``.
    ///
    /// Checked for every input: no crash; the outcome is one of the documented classes for its HTTP
    /// status; a decoded status has counts that are `nil` or ≥ 0; an undecodable one has a non-empty
    /// reason and a one-line excerpt of at most 256 characters; decoding is deterministic; a
    /// `Retry-After` delay is `nil` or ≥ 0. For unmutated valid documents and well-formed
    /// `Retry-After` values the exact answer is known and checked.
    @Suite struct Fuzzing {
        @Test func statusBodiesAndRetryAfterValuesAreAlwaysClassified() async {
            let base = ReliabilityMode.environment["FUZZ_SEED"].flatMap(UInt64.init) ?? ReliabilityMode.seed
            let count = ReliabilityMode.environment["FUZZ_SEED"] != nil ? 1 : ReliabilityMode.fuzzCases
            print("fuzzing: \(count) cases per generator, SEED=\(base)")
            // Seconds of CPU: on a thread of its own, not one of the cooperative pool's (2 on 2 cores) that
            // the other tests' tasks and the in-process simulators share.
            let (failures, kinds, took) = await onOwnThread { () -> ([String], [String: Int], Duration) in
                FuzzCrashReporter.install()
                var failures: [String] = []
                var kinds: [String: Int] = [:]
                let started = ContinuousClock.now
                for index in 0..<count {
                    let caseSeed = count == 1 ? base : FuzzCase.seed(base: base, index: index)
                    FuzzCrashReporter.current = caseSeed
                    let problems = FuzzCase.run(seed: caseSeed, kinds: &kinds)
                    if !problems.isEmpty {
                        failures.append("FUZZ_SEED=\(caseSeed): \(problems.joined(separator: "; "))")
                        if failures.count >= 20 { break }
                    }
                }
                FuzzCrashReporter.current = 0
                FuzzCrashReporter.uninstall()
                return (failures, kinds, ContinuousClock.now - started)
            }
            print("fuzzing: done in \(took); kinds \(kinds.sorted { $0.key < $1.key })")
            #expect(
                failures.isEmpty,
                "failing cases (replay one with FUZZ_SEED=…, then add it to FuzzRegressions.seeds):\n\(failures.joined(separator: "\n"))"
            )
        }

        /// Seeds that once failed (or that cover a tricky path), replayed as regular tests.
        @Test(arguments: FuzzRegressions.seeds)
        func regression(seed: UInt64) {
            var kinds: [String: Int] = [:]
            let problems = FuzzCase.run(seed: seed, kinds: &kinds)
            #expect(problems.isEmpty, "FUZZ_SEED=\(seed): \(problems)")
        }
    }
}

/// Replayed by `Fuzzing.regression`: add a failing case's printed `FUZZ_SEED` here once it is fixed.
enum FuzzRegressions {
    static let seeds: [UInt64] = [
        1, 2, 3, 0xDEAD_BEEF, 0x5EED_0000_0000_0001,
        // `<?xml?>` then a malformed element: FoundationXML crashed in strlen (2026-12-03).
        7_581_871_577_719_738_275,
    ]
}

/// One fuzz case: a body through the decoder and the classifier, and a `Retry-After` through the parser.
enum FuzzCase {
    static func seed(base: UInt64, index: Int) -> UInt64 {
        var mix = SplitMix64(seed: base &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        return mix.next()
    }

    /// Runs the case of `seed`; the broken invariants (empty when all hold).
    static func run(seed: UInt64, kinds: inout [String: Int]) -> [String] {
        var generator = FuzzGenerator(caseSeed: seed)
        var problems: [String] = []
        let body = generator.body()
        if let dump = ReliabilityMode.environment["FUZZ_DUMP"] {
            // Replaying one case: its body, as it is decoded, for a crash the signal handler cannot explain.
            _ = FileManager.default.createFile(atPath: dump, contents: Data(body.bytes))
        }
        kinds[body.kind, default: 0] += 1
        let excerpt = String(decoding: body.bytes.prefix(120), as: UTF8.self).debugDescription

        // The decoder.
        let outcome = StatusDecoder.decode(body.bytes, contentType: body.contentType)
        problems += bodyProblems(outcome, allowed: ["ok", "undecodable"])
        if StatusDecoder.decode(body.bytes, contentType: body.contentType) != outcome {
            problems.append("decoding is not deterministic")
        }
        if let expected = body.expected {
            if case .ok(let status) = outcome {
                let got = FuzzGenerator.Expected(
                    accessToken: status.accessToken?.value, status: status.status, rowCount: status.rowCount,
                    byteCount: status.byteCount)
                if got != expected { problems.append("\(body.kind) decoded as \(got), expected \(expected)") }
            } else {
                problems.append("valid \(body.kind) not decoded: \(outcome)")
            }
        }

        // The classifier, with a random status code and Retry-After.
        let code = generator.pick([
            200, 200, 204, 206, 301, 302, 304, 400, 401, 403, 404, 408, 429, 500, 502, 503, 503, 504, 599, 100, 0, 999,
        ])
        let retry = generator.retryAfter()
        kinds["retry-after/" + retry.kind, default: 0] += 1
        var headers = HTTPHeaders()
        if let contentType = body.contentType { headers.add(name: "Content-Type", value: contentType) }
        for value in retry.values { headers.add(name: "Retry-After", value: value) }
        if let date = retry.dateHeader { headers.add(name: "Date", value: date) }
        let classified = ResponseClassifier.outcome(
            status: code, headers: headers, body: ByteBuffer(bytes: body.bytes), receivedAt: retry.receivedAt)
        let allowed: Set<String> =
            switch code {
            case 200..<300: ["ok", "undecodable"]
            case 503, 429: ["unavailable"]
            case 500..<600: ["server_error"]
            case 400: ["bad_request"]
            case 401: ["unauthorized"]
            case 403: ["forbidden"]
            case 404: ["not_found"]
            default: ["unexpected_status"]
            }
        problems += bodyProblems(classified, allowed: allowed).map { "HTTP \(code): \($0)" }
        if case .badRequest(let detail) = classified, detail.count > 256 {
            problems.append("400 detail longer than 256")
        }

        // The Retry-After parser on its own.
        let delay = RetryAfter.delay(from: retry.values, dateHeader: retry.dateHeader, receivedAt: retry.receivedAt)
        if let delay, delay < .zero { problems.append("negative Retry-After delay \(delay) for \(retry.values)") }
        if let expected = retry.expected, delay != expected {
            problems.append(
                "Retry-After \(retry.values) (Date \(retry.dateHeader ?? "-")) gave \(String(describing: delay)), expected \(String(describing: expected))"
            )
        }
        if case .unavailable(let hint) = classified, hint != delay {
            problems.append(
                "classifier's Retry-After \(String(describing: hint)) differs from the parser's \(String(describing: delay))"
            )
        }

        return problems.isEmpty ? [] : problems + ["body \(body.kind) \(body.contentType ?? "(no type)") \(excerpt)"]
    }

    private static func bodyProblems(_ outcome: PollOutcome, allowed: Set<String>) -> [String] {
        var problems: [String] = []
        if !allowed.contains(outcome.kind.rawValue) {
            problems.append("outcome \(outcome.kind.rawValue) not in \(allowed.sorted())")
        }
        switch outcome {
        case .ok(let status):
            if let rows = status.rowCount, rows < 0 { problems.append("negative RowCount \(rows)") }
            if let bytes = status.byteCount, bytes < 0 { problems.append("negative ByteCount \(bytes)") }
        case .undecodable(let reason, let excerpt):
            if reason.isEmpty { problems.append("undecodable without a reason") }
            if excerpt.count > 256 { problems.append("excerpt of \(excerpt.count) characters") }
            if excerpt.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                problems.append("excerpt contains control characters")
            }
        case .unavailable(let hint):
            if let hint, hint < .zero { problems.append("negative Retry-After \(hint)") }
        default:
            break
        }
        return problems
    }
}

/// Prints the seed of the case being run when the process dies of a trap or a fault, so a crash is
/// as replayable as a failed expectation. Installed for the fuzz loop only; the previous handlers
/// (e.g. the Swift runtime's backtracer) are restored after it, and chained to on a crash. The
/// handler only formats an integer and calls `write(2)`.
enum FuzzCrashReporter {
    nonisolated(unsafe) static var current: UInt64 = 0
    nonisolated(unsafe) static var previous: [sigaction] = Array(repeating: sigaction(), count: 65)
    static let signals = [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE]

    static func install() {
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = fuzzCrashHandler
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            _ = sigaction(signal, &action, &previous[Int(signal)])
        }
    }

    static func uninstall() {
        for signal in signals { _ = sigaction(signal, &previous[Int(signal)], nil) }
    }
}

private func fuzzCrashHandler(_ signal: Int32) {
    var seed = FuzzCrashReporter.current
    if seed != 0 {
        var digits = [UInt8](repeating: 0, count: 24)
        var index = digits.count
        repeat {
            index -= 1
            digits[index] = UInt8(ascii: "0") + UInt8(seed % 10)
            seed /= 10
        } while seed > 0
        let prefix: StaticString = "\nmprefd fuzz: crashed in the case FUZZ_SEED="
        _ = write(2, prefix.utf8Start, prefix.utf8CodeUnitCount)
        digits.withUnsafeBufferPointer { buffer in
            _ = write(2, buffer.baseAddress.map { $0 + index }, digits.count - index)
        }
        _ = write(2, "\n", 1)
    }
    // Hand the signal to whoever had it before (the fault recurs, or the raised signal is delivered, on return).
    _ = sigaction(signal, &FuzzCrashReporter.previous[Int(signal)], nil)
    raise(signal)
}

import Foundation
import MprefCore
import MprefWorker

/// `mpref-bench detection [--seed N] [--exports N] [--history N] [--learned-max-delay S] [--json]`: how late each polling
/// policy notices that an export finished, and at how many status requests, on a virtual clock
/// (docs/BENCHMARKS.md §7). Pure CPU: no sleeping, no network, no database; one seed, one result.
enum Detection {
    struct Segment {
        var name: String
        var medianSeconds: Double
        var sigma: Double
        /// Recurring segments have a history the learned schedule is fitted from; one-offs have none.
        var recurring: Bool
    }

    static let segments = [
        Segment(name: "2 min", medianSeconds: 120, sigma: 0.3, recurring: true),
        Segment(name: "10 min", medianSeconds: 600, sigma: 0.3, recurring: true),
        Segment(name: "30 min", medianSeconds: 1800, sigma: 0.3, recurring: true),
        Segment(name: "1 h", medianSeconds: 3600, sigma: 0.3, recurring: true),
        Segment(name: "2 h", medianSeconds: 7200, sigma: 0.3, recurring: true),
        Segment(name: "one-off", medianSeconds: 900, sigma: 1.0, recurring: false),
    ]

    /// Knob values swept for the curve and the anchor comparison.
    static let efforts: [Double] = [
        0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.2, 1.5, 2, 2.5, 3, 4, 6, 8,
    ]

    struct Row: Codable {
        var policy: String
        var key: String
        var effort: Double?
        var meanS: Double
        var p50S: Double
        var p95S: Double
        var polls: Double

        enum CodingKeys: String, CodingKey {
            case policy, key, effort, meanS = "mean_s", p50S = "p50_s", p95S = "p95_s", polls
        }

        init(policy: String, key: String, effort: Double? = nil, outcomes: [DetectionOutcome]) {
            let delays = outcomes.map(\.delay).sorted()
            self.policy = policy
            self.key = key
            self.effort = effort
            self.meanS = delays.reduce(0, +) / Double(max(delays.count, 1))
            self.p50S = Bench.percentile(delays, 50)
            self.p95S = Bench.percentile(delays, 95)
            self.polls = Double(outcomes.map(\.polls).reduce(0, +)) / Double(max(outcomes.count, 1))
        }
    }

    struct AnchorMatch: Codable {
        var anchor: String
        var anchorPolls: Double
        var anchorMeanS: Double
        /// The knob setting with the lowest mean delay among those using no more polls than the anchor.
        var effort: Double?
        var polls: Double?
        var meanS: Double?
        var p95S: Double?
        var sooner: Bool

        enum CodingKeys: String, CodingKey {
            case anchor, anchorPolls = "anchor_polls", anchorMeanS = "anchor_mean_s", effort, polls, meanS = "mean_s",
                p95S = "p95_s", sooner
        }
    }

    struct Goals: Codable {
        var pollsAtMostToday: Bool
        var meanAtMostHalfToday: Bool
        var p95AtMost120s: Bool

        enum CodingKeys: String, CodingKey {
            case pollsAtMostToday = "polls_at_most_today", meanAtMostHalfToday = "mean_at_most_half_today",
                p95AtMost120s = "p95_at_most_120s"
        }
    }

    /// Issue 16 §3: with callbacks on, p95 delay ≤ 2 s at ≤ 3 polls per export.
    struct CallbackGoals: Codable {
        var p95AtMost2s: Bool
        var pollsAtMost3: Bool

        enum CodingKeys: String, CodingKey {
            case p95AtMost2s = "p95_at_most_2s", pollsAtMost3 = "polls_at_most_3"
        }
    }

    struct SegmentResult: Codable {
        var segment: String
        var medianS: Double
        var sigma: Double
        var recurring: Bool
        /// The forecast fitted from the history (recurring segments).
        var fittedMedianS: Double?
        var fittedSigma: Double?
        var pollCostS: Double?
        /// Polls per export the default schedule expects under its own forecast, and the backoff's.
        var expectedPolls: Double?
        var expectedBackoffPolls: Double?
        var rows: [Row]
        var sweep: [Row]
        var anchors: [AnchorMatch]
        var goals: Goals?
        var callbackGoals: CallbackGoals?

        enum CodingKeys: String, CodingKey {
            case segment, medianS = "median_s", sigma, recurring, fittedMedianS = "fitted_median_s", fittedSigma =
                "fitted_sigma",
                pollCostS = "poll_cost_s", expectedPolls = "expected_polls", expectedBackoffPolls =
                "expected_backoff_polls", rows, sweep, anchors, goals,
                callbackGoals = "callback_goals"
        }
    }

    struct Report: Codable {
        var seed: UInt64
        var exports: Int
        var history: Int
        var defaultEffort: Double
        var learnedMaxDelayS: Double
        var segments: [SegmentResult]

        enum CodingKeys: String, CodingKey {
            case seed, exports, history, defaultEffort = "default_effort", learnedMaxDelayS = "learned_max_delay_s",
                segments
        }
    }

    static func run(_ options: Options) throws {
        let seed = UInt64(max(options.seed ?? 1, 0))
        let exports = min(max(options.exports ?? 2000, 1), 1_000_000)
        let historyCount = min(max(options.history ?? 30, 3), 10_000)
        // `--learned-max-delay S`: polling.max_delay_s for mprefd learned only (today's stays at 300 s).
        let learnedMaxDelay = options.learnedMaxDelay.map { Duration.clampedSeconds($0) }.flatMap {
            $0 > .zero ? $0 : nil
        }
        let started = Bench.monotonicSeconds()
        var report = Report(
            seed: seed, exports: exports, history: historyCount, defaultEffort: LearnedSchedule.defaultEffort,
            learnedMaxDelayS: (learnedMaxDelay ?? PollingConfiguration().maxDelay).seconds, segments: [])
        for (index, segment) in segments.enumerated() {
            report.segments.append(
                try measure(
                    segment, index: UInt64(index), seed: seed, exports: exports, historyCount: historyCount,
                    learnedMaxDelay: learnedMaxDelay))
            Bench.note(String(format: "detection: %@ done (%.1f s)", segment.name, Bench.monotonicSeconds() - started))
        }
        if options.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            FileHandle.standardOutput.write(try encoder.encode(report))
            print()
        } else {
            printMarkdown(report)
        }
    }

    /// The durations (seconds) of segment number `index` under `seed`: `history` past runs (what a
    /// learned schedule is fitted from), then `exports` new ones — stream 0 of the run; the policies
    /// draw from later streams. `mpref-bench time-to-data` seeds a database with the same history.
    static func durations(_ segment: Segment, index: UInt64, seed: UInt64, history: Int, exports: Int) -> (
        history: [Double], finishes: [Double]
    ) {
        let mu = log(segment.medianSeconds)
        var draws = BenchRNG(seed: seed, stream: index << 8, index: 0)
        let past = (0..<history).map { _ in exp(mu + segment.sigma * draws.normal()) }
        let finishes = (0..<exports).map { _ in exp(mu + segment.sigma * draws.normal()) }
        return (past, finishes)
    }

    static func measure(
        _ segment: Segment, index: UInt64, seed: UInt64, exports: Int, historyCount: Int,
        learnedMaxDelay: Duration?
    ) throws -> SegmentResult {
        let policy = PollPolicy(configuration: PollingConfiguration())
        var configuration = PollingConfiguration()
        if let learnedMaxDelay { configuration.maxDelay = learnedMaxDelay }
        let learnedPolicy = PollPolicy(configuration: configuration)
        let fallback = Backoff(
            initial: configuration.initialDelay, max: configuration.maxDelay, multiplier: configuration.multiplier)
        let (history, finishes) = durations(segment, index: index, seed: seed, history: historyCount, exports: exports)
        let forecast = segment.recurring ? CompletionForecast(durations: history) : nil
        let schedule = forecast.map {
            LearnedSchedule(forecast: $0, maxDelay: configuration.maxDelay, fallback: fallback)
        }

        func outcomes(stream: UInt64, _ body: (Double, inout BenchRNG) throws -> DetectionOutcome) rethrows
            -> [DetectionOutcome]
        {
            try finishes.enumerated().map { i, finish in
                var rng = BenchRNG(seed: seed, stream: index << 8 | stream, index: UInt64(i))
                return try body(finish, &rng)
            }
        }
        var rows: [Row] = []
        let today = try outcomes(stream: 1) {
            try DetectionPolicies.mprefd(policy, schedule: nil, finish: $0, using: &$1)
        }
        rows.append(Row(policy: "mprefd today", key: "mprefd_today", outcomes: today))
        let learned = try outcomes(stream: 1) {
            try DetectionPolicies.mprefd(learnedPolicy, schedule: schedule, finish: $0, using: &$1)
        }
        rows.append(
            Row(
                policy: schedule == nil ? "mprefd learned (no history: backoff)" : "mprefd learned",
                key: "mprefd_learned", effort: schedule?.effort, outcomes: learned))
        let safetyNet = CallbackSafetyNet(interval: CallbackSafetyNet.defaultInterval, forecast: forecast)
        let callback = DetectionPolicies.CallbackModel()
        let called = try outcomes(stream: 2) {
            try DetectionPolicies.mprefdWithCallbacks(
                policy, safetyNet: safetyNet, callback: callback, finish: $0, using: &$1)
        }
        rows.append(
            Row(
                policy: String(format: "mprefd + callbacks (%g %% lost)", callback.lossRate * 100),
                key: "mprefd_callbacks", outcomes: called))
        for (offset, anchor) in DetectionPolicies.Anchor.allCases.enumerated() {
            let anchored = outcomes(stream: 10 + UInt64(offset)) { anchor.simulate(finish: $0, using: &$1) }
            rows.append(Row(policy: anchor.rawValue, key: anchor.key, outcomes: anchored))
        }

        var sweep: [Row] = []
        if let forecast {
            for effort in efforts {
                let swept = LearnedSchedule(
                    forecast: forecast, effort: effort, maxDelay: configuration.maxDelay, fallback: fallback)
                // Stream 1 again: at the default effort the sweep must reproduce the PollPolicy row exactly.
                let run = outcomes(stream: 1) {
                    DetectionPolicies.learned(swept, fallback: fallback, finish: $0, using: &$1)
                }
                let row = Row(policy: "mprefd learned", key: "mprefd_learned", effort: effort, outcomes: run)
                if effort == LearnedSchedule.defaultEffort,
                    let direct = rows.first(where: { $0.key == "mprefd_learned" }),
                    abs(direct.meanS - row.meanS) > 1e-6 || abs(direct.polls - row.polls) > 1e-9
                {
                    throw DetectionError(
                        "\(segment.name): the sweep (\(row.meanS) s, \(row.polls) polls) differs from PollPolicy (\(direct.meanS) s, \(direct.polls) polls)"
                    )
                }
                sweep.append(row)
            }
        }

        var anchors: [AnchorMatch] = []
        for anchor in DetectionPolicies.Anchor.allCases {
            guard let a = rows.first(where: { $0.key == anchor.key }) else { continue }
            let best = sweep.filter { $0.polls <= a.polls }.min { $0.meanS < $1.meanS }
            anchors.append(
                AnchorMatch(
                    anchor: anchor.rawValue, anchorPolls: a.polls, anchorMeanS: a.meanS, effort: best?.effort,
                    polls: best?.polls, meanS: best?.meanS, p95S: best?.p95S,
                    sooner: best.map { $0.meanS < a.meanS } ?? false))
        }
        var goals: Goals? = nil
        if schedule != nil, let t = rows.first(where: { $0.key == "mprefd_today" }),
            let l = rows.first(where: { $0.key == "mprefd_learned" })
        {
            goals = Goals(
                pollsAtMostToday: l.polls <= t.polls, meanAtMostHalfToday: l.meanS <= t.meanS / 2,
                p95AtMost120s: l.p95S <= 120)
        }
        let callbackGoals = rows.first(where: { $0.key == "mprefd_callbacks" }).map {
            CallbackGoals(p95AtMost2s: $0.p95S <= 2, pollsAtMost3: $0.polls <= 3)
        }
        return SegmentResult(
            segment: segment.name, medianS: segment.medianSeconds, sigma: segment.sigma, recurring: segment.recurring,
            fittedMedianS: forecast?.median, fittedSigma: forecast?.sigma, pollCostS: schedule?.pollCostSeconds,
            expectedPolls: schedule?.expectedPolls, expectedBackoffPolls: schedule?.expectedBackoffPolls,
            rows: rows, sweep: sweep, anchors: anchors, goals: goals, callbackGoals: callbackGoals)
    }

    static func printMarkdown(_ report: Report) {
        print(
            "## Detection (seed \(report.seed), \(report.exports) exports per segment, history \(report.history), learned max delay \(report.learnedMaxDelayS) s, virtual clock)\n"
        )
        print("| segment | policy | mean s | p50 s | p95 s | polls/export |")
        print("|---|---|---:|---:|---:|---:|")
        for s in report.segments {
            for r in s.rows {
                print(
                    String(
                        format: "| %@ | %@ | %.1f | %.1f | %.1f | %.1f |", s.segment, r.policy, r.meanS, r.p50S, r.p95S,
                        r.polls))
            }
        }
        print("\n### Goals (recurring segments, learned at effort \(report.defaultEffort))\n")
        print("| segment | fitted median s / σ | λ s/poll | polls ≤ today | mean ≤ ½ today | p95 ≤ 120 s |")
        print("|---|---|---:|---|---|---|")
        for s in report.segments {
            guard let g = s.goals else { continue }
            let yes = { (b: Bool) in b ? "met" : "**not met**" }
            print(
                String(
                    format: "| %@ | %.0f / %.3f | %.2f | %@ | %@ | %@ |", s.segment, s.fittedMedianS ?? 0,
                    s.fittedSigma ?? 0, s.pollCostS ?? 0,
                    yes(g.pollsAtMostToday), yes(g.meanAtMostHalfToday), yes(g.p95AtMost120s)))
        }
        print("\n### Callbacks on (every segment): p95 ≤ 2 s at ≤ 3 polls per export\n")
        print("| segment | mean s | p95 s | polls/export | p95 ≤ 2 s | polls ≤ 3 |")
        print("|---|---:|---:|---:|---|---|")
        for s in report.segments {
            guard let g = s.callbackGoals, let r = s.rows.first(where: { $0.key == "mprefd_callbacks" }) else {
                continue
            }
            let yes = { (b: Bool) in b ? "met" : "**not met**" }
            print(
                String(
                    format: "| %@ | %.2f | %.2f | %.2f | %@ | %@ |", s.segment, r.meanS, r.p95S, r.polls,
                    yes(g.p95AtMost2s), yes(g.pollsAtMost3)))
        }
        print("\n### The knob against each anchor: best mean delay at no more polls than the anchor\n")
        print("| segment | anchor | anchor polls / mean s | effort | polls | mean s | p95 s | sooner? |")
        print("|---|---|---|---:|---:|---:|---:|---|")
        for s in report.segments where s.recurring {
            for a in s.anchors {
                if let effort = a.effort, let polls = a.polls, let mean = a.meanS, let p95 = a.p95S {
                    print(
                        String(
                            format: "| %@ | %@ | %.1f / %.1f | %.2f | %.1f | %.1f | %.1f | %@ |", s.segment, a.anchor,
                            a.anchorPolls, a.anchorMeanS,
                            effort, polls, mean, p95, a.sooner ? "yes" : "**no**"))
                } else {
                    print(
                        String(
                            format: "| %@ | %@ | %.1f / %.1f | – | – | – | – | **no setting that few polls** |",
                            s.segment, a.anchor, a.anchorPolls, a.anchorMeanS))
                }
            }
        }
    }
}

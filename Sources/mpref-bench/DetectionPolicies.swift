import Foundation
import MprefCore
import MprefStore
import MprefWorker
import MyPreferences

/// One export's fate under a polling policy: how late its finish was noticed, and how many status
/// requests that took (the add-time poll and the one that saw `Complete` included).
struct DetectionOutcome {
    /// Seconds from the true finish to the first poll at or after it.
    var delay: Double
    var polls: Int
}

/// The policies of `mpref-bench detection`, each run on a virtual clock: time is a `Double` of
/// seconds since the export started, nothing sleeps, randomness comes from the caller's generator.
enum DetectionPolicies {
    static let origin = Date(timeIntervalSince1970: 1_800_000_000)

    /// mprefd itself: the real `PollPolicy.decide`, fed `Processing` until the finish and `Complete` at
    /// the first poll at or after it, the token updated from each decision as the daemon does. With a
    /// `schedule`, a `Processing` answer takes its delay from it (`sinceAdded` = the virtual elapsed
    /// time); with a `safetyNet`, from the net, and a poll is brought forward to `callbackAt` (seconds
    /// since the start; `nil` = no callback) when the callback arrives before the planned poll
    /// (`pollNow`). The status always comes from the poll, never from the callback.
    static func mprefd(
        _ policy: PollPolicy, schedule: LearnedSchedule?, safetyNet: CallbackSafetyNet? = nil,
        callbackAt: Double? = nil,
        finish: Double, using rng: inout some RandomNumberGenerator
    ) throws -> DetectionOutcome {
        var token = WatchedToken(
            id: 1, clientID: try DaemonHarness.clientID(), accessToken: 1, awaitsCallback: safetyNet != nil)
        var t = 0.0
        var polls = 0
        while true {
            polls += 1
            let now = origin.addingTimeInterval(t)
            let finished = t >= finish
            let status = ExportStatus(
                accessToken: 1, status: finished ? "Complete" : "Processing", rowCount: 1, byteCount: 1)
            let decision = policy.decide(
                token: token, result: PollResult(outcome: .ok(status), httpStatus: 200, latency: .zero),
                polledAt: now, now: now, hostKey: "https://bench.invalid:443",
                schedule: schedule, sinceAdded: .clampedSeconds(t), safetyNet: safetyNet, using: &rng)
            if finished {
                guard decision.write.newState == .complete else {
                    throw DetectionError("Complete did not complete the token")
                }
                return DetectionOutcome(delay: t - finish, polls: polls)
            }
            guard let next = decision.nextDelay, next > .zero else {
                throw DetectionError("Processing gave no next delay")
            }
            token.attempt = decision.write.attempt
            token.consecutiveErrors = decision.write.consecutiveErrors
            token.consecutiveNotFound = decision.write.consecutiveNotFound
            let planned = t + next.seconds
            t = callbackAt.map { $0 > t ? Swift.min($0, planned) : planned } ?? planned
        }
    }

    /// When the vendor's callback reaches the daemon, in the model: seconds after the finish drawn
    /// log-normal (median ``medianDelay``, σ ``sigma``), or never, with probability ``lossRate``. The
    /// vendor documents neither; the simulator's default delay is 0.5 s.
    struct CallbackModel {
        var medianDelay = 0.5
        var sigma = 0.5
        var lossRate = 0.02

        /// Seconds from the finish to the callback's arrival, or `nil` for a lost callback.
        func draw(using rng: inout BenchRNG) -> Double? {
            let lost = Double.random(in: 0..<1, using: &rng) < lossRate
            let delay = medianDelay * exp(sigma * rng.normal())
            return lost ? nil : delay
        }
    }

    /// mprefd with callbacks on: ``mprefd(_:schedule:safetyNet:callbackAt:finish:using:)`` with the
    /// export's `CallbackSafetyNet`, the callback arriving as ``CallbackModel`` draws.
    static func mprefdWithCallbacks(
        _ policy: PollPolicy, safetyNet: CallbackSafetyNet, callback: CallbackModel, finish: Double,
        using rng: inout BenchRNG
    ) throws -> DetectionOutcome {
        let arrival = callback.draw(using: &rng).map { finish + $0 }
        return try mprefd(policy, schedule: nil, safetyNet: safetyNet, callbackAt: arrival, finish: finish, using: &rng)
    }

    /// The same placement without `PollPolicy` (for the knob sweep, many runs): the schedule's gap,
    /// else the backoff draw for the attempt, exactly what `decide` does for a `Processing` answer.
    static func learned(
        _ schedule: LearnedSchedule, fallback: Backoff, finish: Double,
        using rng: inout some RandomNumberGenerator
    ) -> DetectionOutcome {
        var t = 0.0
        var polls = 1
        while t < finish {
            let gap = schedule.nextDelay(elapsed: .clampedSeconds(t)) ?? fallback.delay(attempt: polls - 1, using: &rng)
            t += gap.seconds
            polls += 1
        }
        return DetectionOutcome(delay: t - finish, polls: polls)
    }

    /// The systems people use instead of mprefd, at their documented defaults.
    enum Anchor: String, CaseIterable {
        /// Airflow's `BaseSensorOperator`: poke at once, then every `poke_interval` = 60 s.
        case airflow = "Airflow sensor (60 s)"
        /// Smithy waiters: minDelay 2 s, maxDelay 120 s; attempt n ≥ 1 failed → wait
        /// random(minDelay, n > ceiling ? maxDelay : minDelay·2ⁿ⁻¹), ceiling = ⌊log₂(max/min) + 1⌋.
        case smithy = "Smithy waiter (2–120 s)"
        /// google-api-core LRO polling: initial 1 s, ×1.5, maximum 20 s; each sleep uniform(0, current).
        case google = "google-api-core LRO (1 s ×1.5 ≤ 20 s)"
        /// A cron job every 5 minutes, its first run at a uniformly random phase after the start.
        case cron = "cron every 5 min"

        var key: String {
            switch self {
            case .airflow: "airflow"
            case .smithy: "smithy"
            case .google: "google_lro"
            case .cron: "cron_5min"
            }
        }

        func simulate(finish: Double, using rng: inout some RandomNumberGenerator) -> DetectionOutcome {
            var t = 0.0
            var polls = 1
            switch self {
            case .airflow:
                while t < finish { t += 60; polls += 1 }
            case .smithy:
                let minDelay = 2.0, maxDelay = 120.0
                let ceiling = Int(log2(maxDelay / minDelay) + 1)
                var attempt = 1
                while t < finish {
                    let bound = attempt > ceiling ? maxDelay : minDelay * pow(2, Double(attempt - 1))
                    t += bound > minDelay ? Double.random(in: minDelay...bound, using: &rng) : minDelay
                    attempt += 1
                    polls += 1
                }
            case .google:
                var current = 1.0
                while t < finish {
                    t += Double.random(in: 0...current, using: &rng)
                    current = min(current * 1.5, 20)
                    polls += 1
                }
            case .cron:
                t = Double.random(in: 0..<300, using: &rng)
                while t < finish { t += 300; polls += 1 }
            }
            return DetectionOutcome(delay: t - finish, polls: polls)
        }
    }
}

struct DetectionError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The benchmarks' generator: SplitMix64, so that a run is reproducible from `--seed`.
typealias BenchRNG = SplitMix64

extension SplitMix64 {
    /// A generator for one (seed, stream, index), independent of every other.
    init(seed: UInt64, stream: UInt64, index: UInt64) {
        var mixer = SplitMix64(state: seed)
        var s = mixer.next() ^ (stream &* 0xD1B5_4A32_D192_ED03)
        s ^= index &* 0x8CB9_2BA7_2F3D_8DD7
        self.init(state: s)
    }

    /// A standard normal draw (Box–Muller).
    mutating func normal() -> Double {
        let u1 = Double.random(in: Double.leastNormalMagnitude..<1, using: &self)
        let u2 = Double.random(in: 0..<1, using: &self)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

import Foundation
import MprefCore
import MprefTestSupport
import MyPreferencesSimulator
import Testing

extension Reliability.Lane5 {
    /// `kill -9` under load, restart, repeat.
    ///
    /// The load: 1,000 tokens (150 in the fast subset: still
    /// more than `max_in_flight` × 4), token *i* answering `Processing` for a
    /// seeded random number of polls kᵢ and then `Complete` with counts derived from *i*, so
    /// completions fall at random times across the rounds; a global `on_complete` hook that logs
    /// `start`/`done` lines (event id, access token, attempt) around a short sleep, so kills land
    /// during hooks too. Each round starts `mprefd run`, waits a seeded random 0.3–2.0 s, sends
    /// SIGKILL, and then checks the database with the `sqlite3` CLI:
    ///
    /// 1. `PRAGMA integrity_check` is `ok`.
    /// 2. **Every acknowledged commit is present.** The simulator cannot see commits, so this is
    ///    checked through what a commit couples: a `polls` row and its token's update commit in one
    ///    transaction, so every token's `attempt` equals its number of `polls` rows; the number of
    ///    `polls` rows of every token never decreases from one round to the next (nothing committed
    ///    is lost by a later kill or by recovery); no token has more rows than the simulator
    ///    answered it; and per round the answered-but-unrecorded polls grow by at most
    ///    4 × `max_in_flight` — a poll stays "launched, not settled" until its commit returns and the
    ///    scheduler caps those at 4 × `max_in_flight`, so a kill can lose only the polls unsettled at
    ///    that instant.
    /// 3. **The terminal poll matches the simulator's answer.** A `complete` token's last poll row
    ///    says `Complete` with exactly the scripted RowCount/ByteCount (its earlier rows all say
    ///    `Processing`, at most kᵢ of them), the simulator did answer it `Complete`, and no token
    ///    has a `Complete` row while still `watching`.
    /// 4. **Hooks.** Every terminal token has exactly one hook run (queued in the terminal
    ///    transaction), no other token has one, and a run found `running` after a kill is no longer
    ///    `running` with that attempt number at the next kill (it was re-queued).
    ///
    /// After the last round a daemon runs until everything finished and stops with SIGTERM (exit 0),
    /// and then: every token is `complete`; every hook run `succeeded`, none `running`/`pending`;
    /// each token's hook printed `done` at least once, every `done` carries the run's event id, and
    /// more than one `done` only when the run's attempt count shows it was re-run after a kill.
    @Suite struct CrashRecovery {
        @Test func killDashNineUnderLoadLosesNothingCommittedAndRunsEveryHook() async throws {
            let seed = ReliabilityMode.seed
            let rounds = ReliabilityMode.rounds
            // The fast subset: 64 tokens, twice `max_in_flight`, so that every kill still lands with polls
            // in flight and hooks running (each token's hook is a process of its own).
            let tokenCount = ReliabilityMode.isFull ? 1000 : 64
            let maxInFlight = 32
            // Completions spread over the rounds: more rounds, longer exports.
            let maxProcessing = max(6, rounds / 2)
            print("crash recovery: SEED=\(seed) ROUNDS=\(rounds) tokens=\(tokenCount)")
            var rng = SplitMix64(seed: seed)
            let tokens = (0..<tokenCount).map { Int64(100_001 + $0) }
            var processingPolls: [Int64: Int] = [:]
            var scenarios: [TokenScenario] = []
            for token in tokens {
                let k = Int.random(in: 1...maxProcessing, using: &rng)
                processingPolls[token] = k
                scenarios.append(
                    TokenScenario(
                        accessToken: token,
                        scenario: Scenario([
                            .status("Processing", repeat: k),
                            .status("Complete", rowCount: token * 3, byteCount: token * 7),
                        ])))
            }
            let scene = try await ReliabilityScene(scenarios: ScenarioBook(scenarios: scenarios))
            defer { Task { await scene.tearDown() } }
            var orphanCheck: [String] = []
            defer {
                scene.endChildren()
                // Hooks orphaned by a kill finish on their own; end any that did not.
                for pid in orphanCheck.compactMap(Int32.init) where pid > 1 && kill(-pid, 0) == 0 {
                    kill(-pid, SIGKILL)
                }
                scene.removeDirectory()
            }
            let dir = scene.directory.path
            let hookLog = "\(dir)/hooks.log"
            try Data(
                """
                echo "start $MPREFD_EVENT_ID $MPREFD_ACCESS_TOKEN $MPREFD_ATTEMPT $$" >> \(hookLog)
                sleep 0.1
                echo "done $MPREFD_EVENT_ID $MPREFD_ACCESS_TOKEN $MPREFD_ATTEMPT" >> \(hookLog)
                """.utf8
            ).write(to: URL(fileURLWithPath: "\(dir)/hook.sh"))
            try scene.writeConfig(
                polling: [
                    "initial_delay_s: 0.05", "max_delay_s: 0.25", "max_in_flight: \(maxInFlight)",
                    "max_requests_per_second_per_host: 600", "shutdown_grace_s: 5",
                ],
                extra: """
                    hooks:
                      concurrency: 8
                      retry_initial_delay_s: 0.2
                      on_complete:
                        - '/bin/sh \(dir)/hook.sh'
                    """)
            let added = try await scene.mprefd(
                ["add-token", "--stdin"], stdin: tokens.map(String.init).joined(separator: "\n") + "\n")
            try #require(added.status == 0, "\(added.output)")

            var previousCommitted: [Int64: Int] = [:]
            var previousLost = 0
            var previouslyRunning: [Int: Int] = [:]  // hook run id → attempt when it was seen running
            for round in 1...rounds {
                let daemon = try await scene.startDaemon()
                let wait = Double.random(in: 0.3...2.0, using: &rng)
                try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
                #expect(daemon.isRunning, "round \(round): the daemon died on its own:\n\(daemon.log.suffix(3000))")
                await daemon.killNine()
                try await Task.sleep(for: .milliseconds(200))  // let the simulator finish answering

                let context = "round \(round) (SEED=\(seed), killed after \(String(format: "%.2f", wait)) s)"
                #expect(try await scene.integrity() == "ok", "\(context)")
                #expect(
                    try await scene.attemptMismatches() == 0,
                    "\(context): a poll row and its token update did not commit together")

                let committed = try await scene.committedPolls()
                let answered = await scene.answeredRequests()
                let decreased = tokens.filter { (committed[$0] ?? 0) < (previousCommitted[$0] ?? 0) }
                #expect(decreased.isEmpty, "\(context): committed polls disappeared for tokens \(decreased.prefix(10))")
                let overAnswered = tokens.filter { (committed[$0] ?? 0) > (answered[$0] ?? 0) }
                #expect(overAnswered.isEmpty, "\(context): more poll rows than answers for \(overAnswered.prefix(10))")
                let lost = tokens.reduce(0) { $0 + (answered[$1] ?? 0) - (committed[$1] ?? 0) }
                #expect(
                    lost - previousLost <= 4 * maxInFlight,
                    "\(context): \(lost - previousLost) answered polls unrecorded by one kill (max in flight \(maxInFlight))"
                )
                previousLost = lost
                previousCommitted = committed

                try await checkTerminalPolls(scene, processingPolls: processingPolls, context: context)

                let runs = try await scene.query("SELECT id, state, attempt FROM hook_runs WHERE state = 'running'")
                for (id, attempt) in previouslyRunning {
                    let stuck = runs.contains { $0["id"] as? Int == id && $0["attempt"] as? Int == attempt }
                    #expect(!stuck, "\(context): hook run \(id) stayed running at attempt \(attempt) across a restart")
                }
                previouslyRunning = Dictionary(
                    runs.map { ($0["id"] as? Int ?? 0, $0["attempt"] as? Int ?? 0) }, uniquingKeysWith: { a, _ in a })
                orphanCheck = hookStartPIDs(hookLog)
                print(
                    "crash recovery \(context): polls \(committed.values.reduce(0, +)), complete \(try await scene.scalar("SELECT count(*) FROM tokens WHERE state = 'complete'")), hooks succeeded \(try await scene.scalar("SELECT count(*) FROM hook_runs WHERE state = 'succeeded'")), running at kill \(runs.count), unrecorded answers \(lost)"
                )
            }

            // The last start runs everything to its end.
            let last = try await scene.startDaemon()
            let finished = try await scene.eventually(timeout: .seconds(ReliabilityMode.isFull ? 600 : 180)) {
                try await scene.scalar(
                    """
                    SELECT (SELECT count(*) FROM tokens WHERE state <> 'complete') + (SELECT count(*) FROM hook_runs WHERE state <> 'succeeded')
                         + abs((SELECT count(*) FROM hook_runs) - \(tokenCount))
                    """) == 0
            }
            #expect(finished, "not everything finished (SEED=\(seed)); log tail:\n\(last.log.suffix(4000))")
            last.signal(SIGTERM)
            #expect(await last.waitForExit(timeout: .seconds(30)) == 0)
            orphanCheck = hookStartPIDs(hookLog)

            let context = "final (SEED=\(seed))"
            #expect(try await scene.integrity() == "ok")
            #expect(try await scene.attemptMismatches() == 0)
            try await checkTerminalPolls(scene, processingPolls: processingPolls, context: context)
            #expect(
                try await scene.scalar(
                    "SELECT count(*) FROM hook_runs WHERE state IN ('running', 'pending', 'failed', 'dead')") == 0)

            // Exactly once, or more than once only with the same event id after a kill during that hook.
            let runs = try await scene.query(
                "SELECT t.access_token AS token, h.event_id, h.attempt FROM hook_runs h JOIN tokens t ON t.id = h.token_id"
            )
            let lines = ((try? String(contentsOfFile: hookLog, encoding: .utf8)) ?? "").split(separator: "\n").map {
                $0.split(separator: " ").map(String.init)
            }
            var done: [String: [(event: String, attempt: Int)]] = [:]
            for fields in lines where fields.count >= 4 && fields[0] == "done" {
                done[fields[2], default: []].append((fields[1], Int(fields[3]) ?? 0))
            }
            #expect(runs.count == tokenCount)
            var reruns = 0
            for run in runs {
                let token = "\(run["token"] as? Int ?? 0)", eventID = run["event_id"] as? String ?? "?",
                    attempt = run["attempt"] as? Int ?? 0
                let mine = done[token] ?? []
                #expect(!mine.isEmpty, "\(context): the hook of token \(token) never completed")
                #expect(
                    mine.allSatisfy { $0.event == eventID },
                    "\(context): token \(token)'s hook saw another event id: \(mine)")
                #expect(
                    mine.contains { $0.attempt == attempt },
                    "\(context): the succeeded attempt \(attempt) of token \(token) printed no done line: \(mine)")
                if mine.count > 1 {
                    reruns += 1
                    #expect(
                        attempt > 1,
                        "\(context): token \(token)'s hook completed \(mine.count) times without being re-run after a kill"
                    )
                    #expect(
                        Set(mine.map(\.attempt)).count == mine.count,
                        "\(context): token \(token)'s hook ran the same attempt twice: \(mine)")
                }
            }
            print(
                "crash recovery final: \(runs.count) hook runs, \(reruns) completed more than once after a kill during the hook"
            )
        }

        /// Checks the terminal tokens against the scripted answers (see the suite's documentation, point 3 and 4).
        private func checkTerminalPolls(_ scene: ReliabilityScene, processingPolls: [Int64: Int], context: String)
            async throws
        {
            let tokens = try await scene.query(
                """
                SELECT t.access_token AS token, t.state, t.last_status, t.row_count, t.byte_count, t.finished_at,
                       (SELECT group_concat(coalesce(p.status, p.outcome), ',') FROM (SELECT status, outcome FROM polls WHERE token_id = t.id ORDER BY id) p) AS history,
                       (SELECT count(*) FROM hook_runs h WHERE h.token_id = t.id) AS hook_runs
                FROM tokens t
                """)
            let answered = await scene.answeredRequests()
            var problems: [String] = []
            for row in tokens {
                let token = Int64(row["token"] as? Int ?? 0)
                let state = row["state"] as? String ?? "?"
                let history = (row["history"] as? String ?? "").split(separator: ",").map(String.init)
                let hookRuns = row["hook_runs"] as? Int ?? -1
                if state == "complete" {
                    let ok =
                        row["last_status"] as? String == "Complete" && row["row_count"] as? Int == Int(token * 3)
                        && row["byte_count"] as? Int == Int(token * 7) && row["finished_at"] is String
                        && history.last == "Complete" && history.dropLast().allSatisfy { $0 == "Processing" }
                        && history.count - 1 <= processingPolls[token] ?? 0
                        && (answered[token] ?? 0) > processingPolls[token] ?? 0 && hookRuns == 1
                    if !ok { problems.append("\(token): \(row)") }
                } else if state == "watching" {
                    if history.contains("Complete") || hookRuns != 0 { problems.append("\(token) (watching): \(row)") }
                } else {
                    problems.append("\(token) in unexpected state \(state)")
                }
            }
            #expect(
                problems.isEmpty,
                "\(context): \(problems.count) tokens disagree with the simulator's answers: \(problems.prefix(5))")
        }

        /// The `$$` of every hook that logged `start` (each hook is its own process group leader).
        private func hookStartPIDs(_ path: String) -> [String] {
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
                let fields = line.split(separator: " ")
                return fields.count == 5 && fields[0] == "start" ? String(fields[4]) : nil
            }
        }
    }
}

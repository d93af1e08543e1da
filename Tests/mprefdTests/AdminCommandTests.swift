import Foundation
import Testing
import MprefTestSupport

/// The admin commands against a real SQLite file, through the real binary.
@Suite struct AdminCommandTests {
    @Test func addListShowPauseResumeRemoveRoundTrip() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }

        let added = try await cli.run([
            "add-token", "--client-id", "ACME_Co", "123", "456", "--label", "nightly contacts",
            "--deadline", "1h30m", "--on-complete", "echo done, really", "--json",
        ])
        #expect(added.status == 0, "\(added.stderr)")
        let addedJSON = try #require(try added.json() as? [[String: Any]])
        #expect(addedJSON.map { $0["result"] as? String } == ["added", "added"])
        let first = try #require(addedJSON.first?["token"] as? [String: Any])
        #expect(first["client_id"] as? String == "ACME_Co")
        #expect(first["access_token"] as? Int == 123)
        #expect(first["label"] as? String == "nightly contacts")
        #expect(first["state"] as? String == "watching")
        #expect(first["deadline_at"] as? String != nil)

        let again = try await cli.run(["add-token", "--client-id", "ACME_Co", "123"])
        #expect(again.status == 0)
        #expect(again.stdout.contains("already watched: ACME_Co/123"))

        let listed = try #require(try await cli.run(["list", "--json"]).json() as? [[String: Any]])
        #expect(listed.compactMap { $0["access_token"] as? Int } == [123, 456])

        let shown = try await cli.run(["show", "123", "--json"])
        #expect(shown.status == 0, "\(shown.stderr)")
        let shownJSON = try #require(try shown.json() as? [String: Any])
        #expect((shownJSON["token"] as? [String: Any])?["access_token"] as? Int == 123)
        let hooks = try #require(shownJSON["hooks"] as? [[String: Any]])
        #expect(hooks.first?["on_event"] as? String == "complete")
        #expect(hooks.first?["command"] as? String == "echo done, really")
        #expect((shownJSON["polls"] as? [Any])?.isEmpty == true)

        let paused = try await cli.run(["pause", "123"])
        #expect(paused.status == 0)
        #expect(paused.stdout.contains("paused ACME_Co/123"))
        #expect(try await state(cli, 123) == "paused")
        #expect(try await cli.run(["add-token", "--client-id", "ACME_Co", "123"]).stdout.contains("already watched"))

        let resumed = try await cli.run(["resume", "--all"])
        #expect(resumed.status == 0)
        #expect(resumed.stdout.contains("resumed 1 token"))
        #expect(try await state(cli, 123) == "watching")

        let removed = try await cli.run(["remove", "123"])
        #expect(removed.status == 0)
        #expect(removed.stdout.contains("removed ACME_Co/123"))
        #expect(try await state(cli, 123) == "removed")

        let finished = try await cli.run(["add-token", "--client-id", "ACME_Co", "123"])
        #expect(finished.status == 0)
        #expect(finished.stdout.contains("already finished (removed): ACME_Co/123"))
        #expect(try await state(cli, 123) == "removed")
        let reset = try #require(
            try await cli.run(["add-token", "--client-id", "ACME_Co", "123", "--reset", "--json"]).json()
                as? [[String: Any]])
        #expect(reset.first?["result"] as? String == "re_armed")
        #expect(try await state(cli, 123) == "watching")

        let purged = try await cli.run(["remove", "--purge", "456"])
        #expect(purged.status == 0)
        #expect(purged.stdout.contains("purged ACME_Co/456"))
        let gone = try await cli.run(["show", "456"])
        #expect(gone.status == 1)
        #expect(gone.stderr.contains("no token 456"))
        #expect(
            try await cli.query("SELECT count(*) AS n FROM token_hooks WHERE token_id NOT IN (SELECT id FROM tokens)")
                .first?["n"] as? Int == 0)
    }

    @Test func anAccessTokenUnderTwoClientIDsNeedsClientID() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try await cli.run(["add-token", "--client-id", "A", "777"]).status == 0)
        #expect(try await cli.run(["add-token", "--client-id", "B.b-2", "777"]).status == 0)
        let ambiguous = try await cli.run(["show", "777"])
        #expect(ambiguous.status == 64)
        #expect(ambiguous.stderr.contains("A, B.b-2"))
        let one = try await cli.run(["show", "777", "--client-id", "B.b-2", "--json"])
        #expect(one.status == 0)
        #expect(((try one.json() as? [String: Any])?["token"] as? [String: Any])?["client_id"] as? String == "B.b-2")
        #expect(try await cli.run(["pause", "777"]).status == 64)
        #expect(try await cli.run(["pause", "777", "--client-id", "A"]).status == 0)
    }

    /// Bad values: exit 64, a message naming the value, and nothing written.
    static let badValues: [(arguments: [String], named: String)] = [
        (["add-token", "--client-id", "ACME_Co", "0"], "'0'"),
        (["add-token", "--client-id", "ACME_Co", "-1"], "-1"),
        (["add-token", "--client-id", "ACME_Co", "--", "-1"], "'-1'"),
        (["add-token", "--client-id", "ACME_Co", "9223372036854775808"], "'9223372036854775808'"),
        (["add-token", "--client-id", "ACME_Co", "12a"], "'12a'"),
        (["add-token", "--client-id", "ACME_Co", ""], "''"),
        (["add-token", "--client-id", "ACME_Co", "+5"], "'+5'"),
        (["add-token", "--client-id", "ACME_Co", " 5"], "' 5'"),
        (["add-token", "--client-id", "ACME Co", "5"], "'ACME Co'"),
        (["add-token", "--client-id", String(repeating: "x", count: 129), "5"], String(repeating: "x", count: 129)),
        (["add-token", "--client-id", "ACME_Co", "5", "--deadline", "0x"], "'0x'"),
        (["add-token", "--client-id", "ACME_Co", "5", "--deadline", "5x"], "'5x'"),
        (["add-token", "5"], "--client-id"),
        (["list", "--state", "bogus"], "'bogus'"),
    ]

    /// Each bad value, first with no database (none is created), then against one database holding a
    /// good token, beside good tokens (the `tokens` table is unchanged after all of them). One database
    /// for every case: the cases differ in the value, not in the database.
    @Test func badValuesExit64AndWriteNothing() async throws {
        let fresh = try CLI(), existing = try CLI()
        defer { fresh.cleanUp(); existing.cleanUp() }
        #expect(try await existing.run(["add-token", "--client-id", "ACME_Co", "1"]).status == 0)
        let before = try await existing.query("SELECT * FROM tokens ORDER BY id")
        for (arguments, named) in Self.badValues {
            let result = try await fresh.run(arguments)
            #expect(result.status == 64, "\(arguments): stderr: \(result.stderr)")
            #expect(result.stderr.contains(named), "\(arguments): stderr: \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: fresh.databasePath), "\(arguments) created the database")
            // Against the existing database, with good tokens beside the bad one.
            let mixed = arguments.first == "add-token" ? arguments + ["2", "3"] : arguments
            #expect(try await existing.run(mixed).status == 64, "\(mixed)")
        }
        let after = try await existing.query("SELECT * FROM tokens ORDER BY id")
        #expect(after.count == 1)
        #expect(NSArray(array: before).isEqual(to: after))
        #expect(try await existing.run(["list", "--state", "complete"]).status == 0)
    }

    @Test func aNegativeNumberIsNamedInOneLineWithHowToPassIt() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let token = try await cli.run(["add-token", "-5"])
        #expect(token.status == 64)
        #expect(
            token.stderr
                == "mprefd: error: '-5' starts with '-', so it is read as an option; access tokens, counts and "
                + "durations are positive (to pass it anyway, write -- -5)\n", "\(token.stderr)")
        // Written as the message says, the value reaches mprefd's own check, which names it.
        let passed = try await cli.run(["add-token", "--", "-5"])
        #expect(passed.status == 64)
        #expect(passed.stderr.contains("bad access token '-5'"), "\(passed.stderr)")
        let timeout = try await cli.run(["wait", "--timeout", "-3", "5"])
        #expect(timeout.status == 64)
        #expect(timeout.stderr.contains("'-3'") && timeout.stderr.contains("write --timeout=-3"), "\(timeout.stderr)")
        #expect(timeout.stderr.split(separator: "\n").count == 1, "\(timeout.stderr)")
        // A flag takes no value: the advice is `--`, not `--retry=-5`.
        let flag = try await cli.run(["download", "--retry", "-5"])
        #expect(flag.status == 64)
        #expect(flag.stderr.contains("write -- -5") && !flag.stderr.contains("--retry=-5"), "\(flag.stderr)")
        // `-1h` is not `-1 -h` (a help request that exits 0): it is a bad value.
        for arguments in [["hooks", "show", "-1h"], ["hooks", "retry", "-1h"], ["wait", "--timeout", "-1h", "5"]] {
            let hijacked = try await cli.run(arguments)
            #expect(hijacked.status == 64 && hijacked.stdout.isEmpty, "\(arguments): \(hijacked.stdout)")
            #expect(
                hijacked.stderr.hasPrefix("mprefd: error: '-1h' starts with '-'"), "\(arguments): \(hijacked.stderr)")
        }
        let help = try await cli.run(["add-token", "--help"])
        #expect(help.status == 0 && help.stdout.contains("USAGE") && help.stderr.isEmpty)
        let helpAnyway = try await cli.run(["wait", "-5", "--help"])
        #expect(helpAnyway.status == 0 && helpAnyway.stdout.contains("USAGE"))
    }

    @Test func aBadValueOfAHandCheckedArgumentIsEchoedEscaped() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        for arguments in [
            ["add-token", "1\u{1B}]0;pwned\u{07}"], ["add-token", "1\u{202E}"], ["add-token", "1\n2"],
            ["export", "--resolve", "1", "1\u{1B}[31m"],
        ] {
            let result = try await cli.run(arguments)
            #expect(result.status == 64, "\(arguments)")
            #expect(
                result.stderr.split(separator: "\n").count == 1 && result.stderr.hasPrefix("mprefd: error: "),
                "\(result.stderr.debugDescription)")
            #expect(
                !result.stderr.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x202E },
                "\(result.stderr.debugDescription)")
        }
    }

    /// Values ArgumentParser parses into typed arguments (issue 13 §5): a bad one is exit 64 before
    /// anything is opened, its message names the value and the rule, and a value written after `--`
    /// (as the hint says) gets no hint.
    @Test(arguments: [
        (["remove", "12a"], "'12a'", "an access token is a positive integer"),
        (["show", "--", "-5"], "'-5'", "an access token is a positive integer"),
        (["wait", "--", "-5"], "'-5'", "an access token is a positive integer"),
        (["pause", "0"], "'0'", "an access token is a positive integer"),
        (["download", "9223372036854775808"], "'9223372036854775808'", "an access token is a positive integer"),
        (["check-config", "--probe", "--probe-token", "x"], "'x'", "an access token is a positive integer"),
        (["list", "--client-id", "a/b"], "'a/b'", "a client ID is 1–128 of letters"),
        (["resume", "--account", ".."], "'..'", "a client ID is 1–128 of letters"),
        (["cursors", "--client-id", "x y"], "'x y'", "a client ID is 1–128 of letters"),
        (["wait", "5", "--interval", "0"], "'0'", "a duration is like 90s"),
        (["wait", "5", "--timeout", "1h1d"], "'1h1d'", "a duration is like 90s"),
        (["add-token", "5", "--deadline", "soon"], "'soon'", "0 for no deadline, or auto"),
        (["export", "Newsletter", "--incremental", "--overlap", "5x"], "'5x'", "a duration is like 90s"),
        (["export", "Newsletter", "--match-criteria", "Zip", "--values", "1"], "'Zip'", "one of ProfileId"),
        (["hooks", "list", "--state", "done"], "'done'", "a hook run state is one of pending"),
        (["hooks", "show", "0"], "'0'", "a hook run id is the positive integer"),
        (["hooks", "retry", "1", "x"], "'x'", "a hook run id is the positive integer"),
    ])
    func typedArgumentsNameTheValueAndTheRule(arguments: [String], value: String, rule: String) throws {
        // In process: a parse failure, so nothing is opened (no configuration, no database).
        let result = try #require(parseFailure(arguments), "\(arguments) parsed")
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(
            result.stderr.contains("The value \(value) is invalid") && result.stderr.contains(rule),
            "\(arguments): \(result.stderr)")
        #expect(!result.stderr.contains("hint"), "\(arguments): \(result.stderr)")
        // One line, as every error (README: exit codes), naming where help is.
        let lines = result.stderr.split(separator: "\n")
        #expect(
            lines.count == 1 && lines[0].hasPrefix("mprefd: error: ") && lines[0].hasSuffix(" --help')"),
            "\(arguments): \(result.stderr)")
    }

    @Test func aBadValueIsEchoedWithItsControlCharactersEscaped() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let result = try await cli.run(["remove", "--", "12\u{1B}[2J\u{202E}"], database: .none)
        #expect(result.status == 64)
        #expect(
            !result.stderr.contains("\u{1B}") && !result.stderr.contains("\u{202E}"),
            "\(result.stderr.debugDescription)")
        #expect(result.stderr.contains("12\\e[2J\\u{202E}"), "\(result.stderr.debugDescription)")
    }

    /// Checks across options run in `validate()`: exit 64 at the parse, before the configuration is
    /// read (in process; through the binary, a missing --config file would be exit 78).
    @Test(arguments: [
        ["remove"], ["wait"], ["pause"], ["pause", "--all", "5"], ["resume"], ["resume", "--account", "A", "5"],
        ["show", "5", "--history=-1"], ["hooks", "list", "--limit", "0"], ["hooks", "retry"],
        ["hooks", "retry", "--dead", "1"],
        ["check-config", "--probe-token", "5"], ["status", "--stale-after", "nan"],
        ["wait", "5", "--stale-after", "0"],
    ])
    func crossOptionChecksComeBeforeTheConfiguration(arguments: [String]) throws {
        let result = try #require(parseFailure(arguments), "\(arguments) parsed")
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(
            result.stderr.split(separator: "\n").count == 1 && result.stderr.hasPrefix("mprefd: error: "),
            "\(arguments): \(result.stderr)")
    }

    /// The binary's side of a parse failure: the same one line on stderr and exit 64, before the
    /// configuration (a missing one would be exit 78) or the database is opened.
    @Test func aParseFailureThroughTheBinaryIsTheLineDecidedInProcess() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let missing = cli.directory.appendingPathComponent("missing.yaml").path
        for arguments in [["pause", "--all", "5"], ["remove", "12a"], ["hooks", "retry", "-3"]] {
            let result = try await cli.run(arguments, environment: ["MPREFD_CONFIG": missing])
            let decided = try #require(parseFailure(arguments))
            #expect(result.status == 64 && decided.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stderr == decided.stderr && result.stdout.isEmpty, "\(arguments): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: cli.databasePath))
        }
        let help = try await cli.run(["wait", "--help"])
        #expect(help.status == 0 && help.stderr.isEmpty && help.stdout.hasPrefix("OVERVIEW: Wait"))
    }

    @Test func unknownStateListsTheAllowedOnes() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let result = try await cli.run(["list", "--state", "done"])
        #expect(result.status == 64)
        #expect(
            result.stderr.contains(
                "watching, paused, downloading, complete, failed, download_failed, expired, retrieved, timed_out, removed"
            ))
    }

    @Test func stdinWithABadLineNamesTheLineAndWritesNothing() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let result = try await cli.run(
            ["add-token", "--client-id", "ACME_Co", "--stdin"], stdin: "1\n# comment\n\n  2  \n3x\n4\n")
        #expect(result.status == 64)
        #expect(result.stderr.contains("'3x' on stdin line 5"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cli.databasePath))
    }

    @Test func stdinAddsTenThousandTokensInOneTransaction() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        var lines = ["# tokens of the nightly run", ""]
        for token in 1...10_000 { lines.append(token % 1000 == 0 ? "  \(token)\t" : String(token)) }
        lines.insert("# halfway", at: 5000)
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await cli.run(
            ["add-token", "--client-id", "ACME_Co", "--stdin", "--label", "bulk"],
            stdin: lines.joined(separator: "\n") + "\n")
        let elapsed = clock.now - start
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 10_000)
        let counts = try #require(
            try await cli.query(
                "SELECT count(*) AS n, count(DISTINCT access_token) AS distinct_tokens, min(access_token) AS lo, max(access_token) AS hi, count(DISTINCT admin_seq) AS transactions FROM tokens"
            ).first)
        #expect(counts["n"] as? Int == 10_000)
        #expect(counts["distinct_tokens"] as? Int == 10_000)
        #expect(counts["lo"] as? Int == 1)
        #expect(counts["hi"] as? Int == 10_000)
        // addTokens takes one admin_seq per transaction.
        #expect(counts["transactions"] as? Int == 1)
        print("add-token --stdin of 10,000 tokens took \(elapsed)")
    }

    @Test func addTokenWaitsForAnotherProcesssWriteLock() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try await cli.run(["migrate"]).status == 0)

        // Hold the write lock from another process until the test releases it. sqlite3 itself creates the
        // marker file once BEGIN IMMEDIATE and the INSERT have run, so the lock is known to be held from then on.
        let marker = cli.directory.appendingPathComponent("locked").path
        let release = cli.directory.appendingPathComponent("release").path
        let holder = try ChildProcess(
            "/bin/sh",
            [
                "-c",
                "(echo 'BEGIN IMMEDIATE;'; echo \"INSERT INTO pauses VALUES ('host', 'lock-test', 'x', 'x', 'x', NULL, NULL);\"; echo '.shell touch \(marker)'; echo '.shell while [ ! -e \(release) ]; do sleep 0.02; done'; echo 'COMMIT;') | sqlite3 '\(cli.databasePath)'",
            ],
            environment: ProcessInfo.processInfo.environment, in: cli.directory, output: .log("holder"))
        defer { holder.stopNow() }
        try #require(
            await eventually { FileManager.default.fileExists(atPath: marker) || !holder.isRunning },
            "the sqlite3 child never took the lock")
        try #require(holder.isRunning, "the sqlite3 child ended: \(holder.log)")
        let probe = try await cli.sqlite([cli.databasePath, "BEGIN IMMEDIATE; ROLLBACK;"])
        #expect(probe.status != 0 && probe.stderr.contains("locked"), "the lock must be held while add-token runs")

        // add-token opens the database while the lock is held; it cannot finish before the release.
        let adding = try ChildProcess(
            BuiltBinaries.mprefd, ["add-token", "--client-id", "ACME_Co", "42", "--db", cli.databasePath],
            environment: cli.baseEnvironment(), in: cli.directory, output: .log("add-token"))
        defer { adding.stopNow() }
        let opened = await eventually { !adding.isRunning || Self.hasOpen(cli.databasePath, pid: adding.pid) }
        #expect(opened && adding.isRunning, "add-token ended while another process held the write lock: \(adding.log)")
        FileManager.default.createFile(atPath: release, contents: nil)
        #expect(await adding.waitForExit() == 0, "\(adding.log)")
        #expect(adding.log.contains("added ACME_Co/42"), "\(adding.log)")
        #expect(await holder.waitForExit() == 0, "\(holder.log)")
        #expect(try await cli.query("SELECT access_token FROM tokens").first?["access_token"] as? Int == 42)
        #expect(try await cli.query("SELECT subject FROM pauses").first?["subject"] as? String == "lock-test")
    }

    /// Whether process `pid` has `path` open (a link in `/proc/PID/fd`).
    static func hasOpen(_ path: String, pid: Int32) -> Bool {
        let fds = "/proc/\(pid)/fd"
        return ((try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? []).contains {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fds)/\($0)")) == path
        }
    }

    @Test func tokenSummaryViewReadsWithTheSqlite3CLI() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(
            try await cli.run(["add-token", "--client-id", "ACME_Co", "9223372036854775807", "--label", "max"]).status
                == 0)
        let rows = try await cli.query("SELECT * FROM token_summary")
        let row = try #require(rows.first)
        #expect(rows.count == 1)
        #expect(row["client_id"] as? String == "ACME_Co")
        #expect((row["access_token"] as? NSNumber)?.int64Value == Int64.max)
        #expect(row["label"] as? String == "max")
        #expect(row["state"] as? String == "watching")
        #expect(row["poll_count"] as? Int == 0)
    }

    @Test func aNewerSchemaIsRefusedAndLeftUnchanged() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try await cli.run(["add-token", "--client-id", "ACME_Co", "1"]).status == 0)
        let insert = try await cli.sqlite([
            cli.databasePath,
            "INSERT INTO schema_migrations (id, applied_at) VALUES ('9999_future', '2030-01-01T00:00:00.000Z')",
        ])
        #expect(insert.status == 0)
        let dump = try await cli.sqlite([cli.databasePath, ".dump"])

        for arguments in [
            ["add-token", "--client-id", "ACME_Co", "2"], ["list"], ["show", "1"], ["migrate"], ["pause", "1"],
        ] {
            let result = try await cli.run(arguments)
            #expect(result.status == 69, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("9999_future"), "\(arguments): \(result.stderr)")
        }
        #expect(try await cli.sqlite([cli.databasePath, ".dump"]).stdout == dump.stdout)
    }

    @Test func migrateAppliesAllOnAFreshFileAndNothingTheSecondTime() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let first = try #require(try await cli.run(["migrate", "--json"]).json() as? [String: Any])
        let applied = try #require(first["applied"] as? [String])
        let all = try #require(first["migrations"] as? [String])
        #expect(!applied.isEmpty)
        #expect(applied == all)
        #expect(all.first?.hasPrefix("0001_") == true)
        let second = try #require(try await cli.run(["migrate", "--json"]).json() as? [String: Any])
        #expect((second["applied"] as? [String]) == [])
        #expect((second["migrations"] as? [String]) == all)
        let text = try await cli.run(["migrate"])
        #expect(text.stdout.contains("nothing to apply"))
    }

    @Test func readCommandsOnAMissingDatabaseExit69AndCreateNothing() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        for arguments in [["list"], ["show", "1"], ["remove", "1"], ["pause", "--all"], ["resume", "1"]] {
            let result = try await cli.run(arguments)
            #expect(result.status == 69, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(cli.databasePath))
        }
        #expect(!FileManager.default.fileExists(atPath: cli.databasePath))
        let missingDirectory = cli.directory.appendingPathComponent("no/such/dir/db.sqlite3").path
        let result = try await cli.run(["add-token", "--client-id", "A", "1"], database: .some(missingDirectory))
        #expect(result.status == 69)
        #expect(result.stderr.contains("mkdir -p"))
    }

    /// Asked for with --verbose (issue 17.13: not on every command's stderr any more).
    @Test func theDatabaseUsedIsNamedWhenItComesFromADefault() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let viaEnvironment = try await cli.run(
            ["add-token", "--client-id", "A", "1", "--verbose"], database: .none,
            environment: ["MPREFD_DB": cli.databasePath])
        #expect(viaEnvironment.status == 0)
        #expect(viaEnvironment.stderr.contains("database: \(cli.databasePath) ($MPREFD_DB)"))
        let configPath = try cli.write("db.yaml", "database:\n  path: \(cli.directory.path)/other.sqlite3\n")
        let viaConfig = try await cli.run(
            ["add-token", "--client-id", "A", "1", "--config", configPath, "--verbose"], database: .none)
        #expect(viaConfig.status == 0)
        #expect(viaConfig.stderr.contains("database: \(cli.directory.path)/other.sqlite3 (database.path"))
        let explicit = try await cli.run(["list"])
        #expect(!explicit.stderr.contains("database:"))
    }

    private func state(_ cli: CLI, _ token: Int) async throws -> String? {
        try await cli.query("SELECT state FROM tokens WHERE access_token = \(token)").first?["state"] as? String
    }
}

import Foundation
import MprefTestSupport
import Testing
@testable import mprefd

/// The files an operator installs: the example configuration, the systemd unit, the example hooks.
@Suite struct PackagingTests {
    static let exampleConfig = BuiltBinaries.path("etc/mprefd.yaml.example")
    static let unit = BuiltBinaries.path("etc/systemd/mprefd.service")
    static let logHook = BuiltBinaries.path("etc/hooks/log-event.sh")
    static let etlHook = BuiltBinaries.path("etc/hooks/etl-complete.sh")

    /// Every key of the configuration, from the loader's own table (``ConfigKeys``), as its last
    /// path component under its innermost section (`accounts.<ID>.auth.user_id` → `auth`, `user_id`).
    static let configKeys: [(section: String, key: String)] = ConfigKeys.all(accountIDs: ["<ID>"]).map { entry in
        (entry.path.dropLast().last { $0 != "<ID>" } ?? "", entry.key.name)
    }

    @Test func theKeyTableHasEveryKeyOnce() {
        #expect(Self.configKeys.count > 50)
        #expect(Self.configKeys.contains { $0 == ("callbacks", "safety_interval_s") })
        #expect(Self.configKeys.contains { $0 == ("download", "keep_files") })
        let paths = Self.configKeys.map { "\($0.section).\($0.key)" }
        #expect(Set(paths).count == paths.count, "\(paths)")
    }

    // MARK: etc/mprefd.yaml.example

    @Test func exampleConfigPassesCheckConfigAsShipped() async throws {
        let directory = try PackagingTools.temporaryDirectory("mprefd-packaging")
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await ChildProcess.run(
            BuiltBinaries.mprefd, ["check-config", "--config", Self.exampleConfig],
            environment: PackagingTools.cleanEnvironment(), in: directory, timeout: .seconds(120))
        #expect(result.status == 0, "check-config: \(result.stderr)")
        // Its one account points at the local simulator, without authentication.
        #expect(result.stdout.contains("ACME_Co:"))
        #expect(result.stdout.contains("base_url: http://127.0.0.1:8080/Profiles"))
        #expect(result.stdout.contains("scheme: none"))
        #expect(result.stdout.contains("listen: \"\""), "metrics are off by default")
        // Every value came from the file: no key was left to its default.
        let keyLines = result.stdout.split(separator: "\n").filter { $0.contains("#") && !$0.hasPrefix("#") }
        #expect(!keyLines.isEmpty)
        #expect(
            keyLines.allSatisfy { $0.hasSuffix("# file") },
            "keys not set in the example: \(keyLines.filter { !$0.hasSuffix("# file") })")
    }

    @Test func exampleConfigMentionsEveryKeyWithAComment() throws {
        let lines = try String(contentsOfFile: Self.exampleConfig, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false
        ).map(String.init)
        for (section, key) in Self.configKeys {
            // The key, set or commented out (auth alternatives are shown commented).
            let index = lines.firstIndex { line in
                let bare = line.trimmingCharacters(in: .whitespaces)
                return bare.hasPrefix("\(key):") || bare.hasPrefix("# \(key):")
            }
            let found = try #require(index, "\(section).\(key) is missing from etc/mprefd.yaml.example")
            // Explained: a comment right above it, or on its line.
            let above = found > 0 ? lines[found - 1].trimmingCharacters(in: .whitespaces) : ""
            #expect(above.hasPrefix("#") || lines[found].contains(" # "), "\(section).\(key) has no comment")
        }
        // The other auth schemes are shown, commented out.
        let text = lines.joined(separator: "\n")
        #expect(text.contains("# scheme: pnauthinfo3"))
        #expect(text.contains("# scheme: oauth"))
    }

    @Test func readmeConfigurationTableListsEveryKey() throws {
        let readme = try String(contentsOfFile: BuiltBinaries.path("README.md"), encoding: .utf8)
        for (section, key) in Self.configKeys {
            #expect(readme.contains("\(key)`"), "\(section).\(key) is missing from the README's configuration table")
        }
        #expect(readme.contains("`retention.history_days` | 90 | days"))
        #expect(readme.contains("`retention.finished_tokens_days` | 365 | days"))
    }

    // MARK: etc/systemd/mprefd.service

    /// The unit's `Key=Value` lines (comments skipped), in order.
    static func unitDirectives() throws -> [(key: String, value: String)] {
        try String(contentsOfFile: unit, encoding: .utf8).split(separator: "\n").compactMap { line in
            let text = line.trimmingCharacters(in: .whitespaces)
            guard !text.hasPrefix("#"), !text.hasPrefix("["), let equals = text.firstIndex(of: "=") else { return nil }
            return (String(text[..<equals]), String(text[text.index(after: equals)...]))
        }
    }

    @Test func unitHasTheDirectivesOperatorsRelyOn() throws {
        let directives = try Self.unitDirectives()
        func value(_ key: String) -> String? { directives.last { $0.key == key }?.value }
        #expect(value("ExecStart") == "/usr/local/bin/mprefd run --config /etc/mprefd/mprefd.yaml")
        #expect(value("User") == "mprefd")
        #expect(value("Group") == "mprefd")
        #expect(value("StateDirectory") == "mprefd")
        #expect(value("StateDirectoryMode") == "0750")
        #expect(value("ConfigurationDirectory") == "mprefd")
        #expect(value("Restart") == "on-failure")
        #expect(value("KillMode") == "mixed")
        #expect(value("UMask") == "0027")
        // Above the daemon's own grace: polling.shutdown_grace_s (10) + hooks.kill_grace_s (10).
        let stop = try #require(value("TimeoutStopSec").flatMap { Int($0.replacingOccurrences(of: "s", with: "")) })
        #expect(stop > 20)
        for (key, expected) in [
            ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
            ("ProtectKernelTunables", "yes"),
            ("ProtectControlGroups", "yes"), ("LockPersonality", "yes"), ("RestrictRealtime", "yes"),
            ("SystemCallArchitectures", "native"), ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
            ("ReadWritePaths", "/var/lib/mprefd"),
        ] {
            #expect(value(key) == expected, "\(key)")
        }
        #expect(["read-only", "yes", "true"].contains(value("ProtectHome") ?? ""))
        // SIGHUP is a clean stop (exit 0): an ExecReload= sending it would stop the service.
        #expect(value("ExecReload") == nil)
        #expect(value("LimitNOFILE").flatMap { Int($0) }.map { $0 >= 1024 } == true)
        let text = try String(contentsOfFile: Self.unit, encoding: .utf8)
        // Secrets through credentials, matched to the example config's secret_file.
        #expect(text.contains("LoadCredential=acme-hmac:"))
        #expect(text.contains("$CREDENTIALS_DIRECTORY"))
        // Every directive of [Service] is explained by a comment somewhere above it in its block.
        #expect(text.components(separatedBy: "\n#").count > 30)
    }

    /// `systemd-analyze verify` on a copy whose ExecStart names the built binary (verify insists the
    /// binary exists); any complaint about the unit file itself — an unknown key, a value it cannot
    /// parse — fails, even though verify exits 0 for those. Complaints about other units (e.g. a
    /// missing network-online.target in a container) are not the unit's fault and are ignored.
    @Test(
        .enabled("needs systemd-analyze (Debian package systemd); installed by .ci/run, or here when root") {
            PackagingTools.ensure("systemd-analyze", package: "systemd")
        })
    func unitVerifiesWithSystemdAnalyze() async throws {
        let directory = try PackagingTools.temporaryDirectory("mprefd-unit")
        defer { try? FileManager.default.removeItem(at: directory) }
        let original = try String(contentsOfFile: Self.unit, encoding: .utf8)
        #expect(original.contains("ExecStart=/usr/local/bin/mprefd "))
        let copy = original.replacingOccurrences(
            of: "ExecStart=/usr/local/bin/mprefd ", with: "ExecStart=\(BuiltBinaries.mprefd) ")
        let path = directory.appendingPathComponent("mprefd.service").path
        try copy.write(toFile: path, atomically: true, encoding: .utf8)
        let analyze = try #require(PackagingTools.which("systemd-analyze"))
        let result = try await ChildProcess.run(
            analyze, ["verify", path], environment: PackagingTools.cleanEnvironment(), in: directory,
            timeout: .seconds(120))
        let output = (result.stdout + "\n" + result.stderr).split(separator: "\n").map(String.init)
        let aboutTheUnit = output.filter { $0.contains("mprefd.service") }
        #expect(result.status == 0, "systemd-analyze verify: \(output.joined(separator: "\n"))")
        #expect(
            aboutTheUnit.isEmpty,
            "systemd-analyze verify complained about the unit:\n\(aboutTheUnit.joined(separator: "\n"))")
    }

    /// The export units: `mprefd-export@.service` (oneshot `mprefd export %I --incremental`) and its
    /// timer verify as an instance (`@Newsletter`), hardened like the daemon's unit, and the timer
    /// starts the service of its own instance.
    @Test(
        .enabled("needs systemd-analyze (Debian package systemd); installed by .ci/run, or here when root") {
            PackagingTools.ensure("systemd-analyze", package: "systemd")
        })
    func exportUnitsVerifyWithSystemdAnalyze() async throws {
        let directory = try PackagingTools.temporaryDirectory("mprefd-export-unit")
        defer { try? FileManager.default.removeItem(at: directory) }
        let service = try String(
            contentsOfFile: BuiltBinaries.path("etc/systemd/mprefd-export@.service"), encoding: .utf8)
        let timer = try String(contentsOfFile: BuiltBinaries.path("etc/systemd/mprefd-export@.timer"), encoding: .utf8)
        #expect(service.contains("ExecStart=/usr/local/bin/mprefd export %I --incremental "))
        #expect(service.contains("Type=oneshot"))
        for directive in [
            "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "ReadWritePaths=/var/lib/mprefd",
            "User=mprefd", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallFilter=@system-service",
        ] {
            #expect(service.contains("\n\(directive)\n"), "\(directive)")
        }
        #expect(timer.contains("Unit=mprefd-export@%i.service"))
        #expect(timer.contains("Persistent=true"))
        let servicePath = directory.appendingPathComponent("mprefd-export@Newsletter.service").path
        let timerPath = directory.appendingPathComponent("mprefd-export@Newsletter.timer").path
        try service.replacingOccurrences(
            of: "ExecStart=/usr/local/bin/mprefd ", with: "ExecStart=\(BuiltBinaries.mprefd) "
        )
        .write(toFile: servicePath, atomically: true, encoding: .utf8)
        try timer.write(toFile: timerPath, atomically: true, encoding: .utf8)
        let analyze = try #require(PackagingTools.which("systemd-analyze"))
        let result = try await ChildProcess.run(
            analyze, ["verify", servicePath, timerPath], environment: PackagingTools.cleanEnvironment(),
            in: directory, timeout: .seconds(120))
        let output = (result.stdout + "\n" + result.stderr).split(separator: "\n").map(String.init)
        let aboutTheUnits = output.filter { $0.contains("mprefd-export@") }
        #expect(result.status == 0, "systemd-analyze verify: \(output.joined(separator: "\n"))")
        #expect(
            aboutTheUnits.isEmpty,
            "systemd-analyze verify complained about the export units:\n\(aboutTheUnits.joined(separator: "\n"))")
    }

    /// The check above can fail: a unit with an unknown key is reported.
    @Test(
        .enabled("needs systemd-analyze (Debian package systemd)") {
            PackagingTools.ensure("systemd-analyze", package: "systemd")
        })
    func systemdAnalyzeReportsAnUnknownKey() async throws {
        let directory = try PackagingTools.temporaryDirectory("mprefd-unit")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("mprefd.service").path
        try "[Service]\nExecStart=\(BuiltBinaries.mprefd) --help\nProtectSystm=strict\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        let analyze = try #require(PackagingTools.which("systemd-analyze"))
        let result = try await ChildProcess.run(
            analyze, ["verify", path], environment: PackagingTools.cleanEnvironment(), in: directory,
            timeout: .seconds(120))
        #expect((result.stdout + result.stderr).contains("mprefd.service"))
    }

    // MARK: etc/hooks

    @Test(
        .enabled("needs shellcheck (Debian package shellcheck); installed by .ci/run, or here when root") {
            PackagingTools.ensure("shellcheck", package: "shellcheck")
        })
    func hooksAreShellcheckClean() async throws {
        let shellcheck = try #require(PackagingTools.which("shellcheck"))
        let directory = try PackagingTools.temporaryDirectory("mprefd-shellcheck")
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await ChildProcess.run(
            shellcheck, ["--shell=sh", "--severity=style", Self.logHook, Self.etlHook],
            environment: PackagingTools.cleanEnvironment(), in: directory, timeout: .seconds(120))
        #expect(result.status == 0, "shellcheck:\n\(result.stdout)\(result.stderr)")
    }

    @Test(arguments: [logHook, etlHook])
    func hooksArePOSIXShAndExecutable(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("#!/bin/sh\n"))
        #expect(FileManager.default.isExecutableFile(atPath: path))
        #expect(!text.contains("eval "), "hooks never evaluate values")
    }

    @Test func logEventHookAppendsOneLinePerEventAndNeverRunsValues() async throws {
        let hooks = try HookFixture()
        defer { hooks.cleanUp() }
        let logPath = hooks.directory.appendingPathComponent("events.log").path
        let marker = hooks.directory.appendingPathComponent("pwned").path
        let label = "nightly \"contacts\" $(touch \(marker)) `touch \(marker)`\nsecond line"
        let first = try await hooks.run(Self.logHook, [], eventID: "e-1", event: "complete", label: label)
        #expect(first.status == 0, "\(first.stderr)")
        let second = try await hooks.run(
            Self.logHook, [logPath], eventID: "e-2", event: "failed", status: "Error", rows: "")
        #expect(second.status == 0, "\(second.stderr)")

        // Without an argument it writes events.log beside $MPREFD_DB — the same file here.
        let lines = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0].contains("event=\"complete\""))
        #expect(lines[0].contains("event_id=\"e-1\""))
        #expect(lines[0].contains("client_id=\"ACME_Co\""))
        #expect(lines[0].contains("access_token=\"123456\""))
        #expect(lines[0].contains("status=\"Complete\""))
        #expect(lines[0].contains("rows=\"1000\""))
        #expect(lines[0].contains("bytes=\"50000\""))
        #expect(lines[0].contains("label=\"nightly \\\"contacts\\\" $(touch"), "quotes escaped, one line: \(lines[0])")
        #expect(lines[0].hasPrefix("ts="))
        #expect(lines[1].contains("event=\"failed\""))
        #expect(lines[1].contains("status=\"Error\""))
        #expect(!FileManager.default.fileExists(atPath: marker), "a value was executed")
    }

    @Test func etlHookRecordsAnEventOnceEvenWhenRunTwice() async throws {
        let hooks = try HookFixture()
        defer { hooks.cleanUp() }
        let state = hooks.directory.appendingPathComponent("etl")
        let processed = state.appendingPathComponent("processed").path

        let first = try await hooks.run(
            Self.etlHook, [], eventID: "0b1c2d3e-aaaa-bbbb-cccc-000000000001", event: "complete")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("ACME_Co/123456 complete: 1000 rows, 50000 bytes"))
        let again = try await hooks.run(
            Self.etlHook, [], eventID: "0b1c2d3e-aaaa-bbbb-cccc-000000000001", event: "complete")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("already loaded"))

        var records = try String(contentsOfFile: processed, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        #expect(records.count == 1)
        #expect(
            records.first?.prefix(6) == [
                "0b1c2d3e-aaaa-bbbb-cccc-000000000001", "ACME_Co", "123456", "1000", "50000",
                "2026-11-02T10:00:03.250Z",
            ])
        // The stdin document was kept for the load step.
        let document = try String(
            contentsOf: state.appendingPathComponent("events/0b1c2d3e-aaaa-bbbb-cccc-000000000001.json"),
            encoding: .utf8)
        #expect(document.contains("\"event_id\":\"0b1c2d3e-aaaa-bbbb-cccc-000000000001\""))

        // A different event is recorded; a non-complete event and a hostile event id are not.
        let other = try await hooks.run(Self.etlHook, [state.path], eventID: "second-event", event: "complete")
        #expect(other.status == 0, "\(other.stderr)")
        let failed = try await hooks.run(Self.etlHook, [], eventID: "third-event", event: "failed")
        #expect(failed.status == 0)
        let hostile = try await hooks.run(Self.etlHook, [], eventID: "../../x", event: "complete")
        #expect(hostile.status != 0)
        records = try String(contentsOfFile: processed, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        #expect(records.map { $0.first ?? "" } == ["0b1c2d3e-aaaa-bbbb-cccc-000000000001", "second-event"])
    }

    @Test func etlHookLetsOnlyOneOfConcurrentRunsOfAnEventProceed() async throws {
        let hooks = try HookFixture()
        defer { hooks.cleanUp() }
        let results = try await withThrowingTaskGroup(of: ChildProcess.Result.self) { group in
            for _ in 0..<6 {
                group.addTask { try await hooks.run(Self.etlHook, [], eventID: "concurrent-event", event: "complete") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.status == 0 }, "\(results.map(\.stderr))")
        #expect(results.filter { $0.stdout.contains("already loaded") }.count == 5)
        let processed = hooks.directory.appendingPathComponent("etl/processed").path
        let lines = try String(contentsOfFile: processed, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
    }
}

/// Runs an example hook the way mprefd does: only PATH, HOME, LANG, TZ and the `MPREFD_*` facts in
/// the environment, the JSON document on stdin.
struct HookFixture: Sendable {
    let directory: URL
    var databasePath: String { directory.appendingPathComponent("mprefd.sqlite3").path }

    init() throws { directory = try PackagingTools.temporaryDirectory("mprefd-hooks") }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }

    func run(
        _ hook: String, _ arguments: [String], eventID: String, event: String, label: String = "nightly",
        status: String = "Complete", rows: String = "1000"
    ) async throws -> ChildProcess.Result {
        let facts: [(String, String)] = [
            ("event_id", eventID), ("event", event), ("client_id", "ACME_Co"), ("access_token", "123456"),
            ("label", label),
            ("status", status), ("row_count", rows), ("byte_count", "50000"), ("added_at", "2026-11-02T09:00:00.000Z"),
            ("finished_at", "2026-11-02T10:00:03.250Z"), ("attempt", "1"), ("db", databasePath),
        ]
        var environment = [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": directory.path,
            "LANG": "C.UTF-8", "TZ": "UTC",
        ]
        var document: [String: Any] = [:]
        for (key, value) in facts {
            environment["MPREFD_" + key.uppercased()] = value
            document[key] = Int(value).map { $0 as Any } ?? value
        }
        let json =
            String(
                decoding: try JSONSerialization.data(
                    withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self) + "\n"
        return try await ChildProcess.run(
            hook, arguments, environment: environment, in: directory, stdin: json, timeout: .seconds(120))
    }
}

import Foundation
import MprefTestSupport
import Testing

@testable import mprefd

/// `mprefd check-config` through the real binary, and the configuration rules (the table of bad values
/// in process, through the loader every command uses).
@Suite struct ConfigurationTests {
    static let hmacSecret = "hmac-Sup3r-SECRET-value"
    static let oauthSecret = "oauth-Client-SECRET-value"

    static let goodConfig = """
        # mprefd test configuration
        database:
          busy_timeout_s: 5
        log:
          level: debug
          format: json
        polling:
          initial_delay_s: 5
          max_delay_s: 120
          multiplier: 1.5
        hooks:
          on_complete: ["/usr/local/bin/load-export --from, to"]
          max_attempts: 3
        metrics:
          listen: ":9464"
        accounts:
          ACME_Co:
            base_url: http://127.0.0.1:8080/Profiles
            accept: xml
            auth:
              scheme: pnauthinfo3
              user_id: etl.user
              secret: \(hmacSecret)
          Other.Co-2:
            auth:
              scheme: oauth
              user_id: etl.user
              token_url: https://auth.example.com/oauth/token
              client_id: mprefd
              client_secret: \(oauthSecret)
        """

    @Test func aGoodFileIsPrintedWithSecretsRedacted() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let path = try cli.write("good.yaml", Self.goodConfig)
        for arguments in [["check-config", "--config", path], ["check-config", "--config", path, "--json"]] {
            let result = try await cli.run(arguments)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("<redacted>"))
            for secret in [Self.hmacSecret, Self.oauthSecret] {
                #expect(!result.stdout.contains(secret))
                #expect(!result.stderr.contains(secret))
            }
        }
        let json = try #require(
            try await cli.run(["check-config", "--config", path, "--json"]).json() as? [String: Any])
        let polling = try #require(json["polling"] as? [String: Any])
        #expect(polling["max_delay_s"] as? Int == 120)
        #expect(polling["multiplier"] as? Double == 1.5)
        #expect(polling["deadline_s"] as? Int == 86_400)
        let accounts = try #require(json["accounts"] as? [String: Any])
        #expect(Set(accounts.keys) == ["ACME_Co", "Other.Co-2"])
        let acme = try #require(accounts["ACME_Co"] as? [String: Any])
        #expect(acme["accept"] as? String == "xml")
        #expect((acme["auth"] as? [String: Any])?["secret"] as? String == "<redacted>")
        #expect(
            (json["hooks"] as? [String: Any])?["on_complete"] as? [String] == ["/usr/local/bin/load-export --from, to"])
        #expect((json["metrics"] as? [String: Any])?["listen"] as? String == ":9464")
        #expect(json["config_file"] as? String == path)
    }

    @Test func theTextOutputIsYAMLThatChecksAgain() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let path = try cli.write(
            "good.yaml",
            Self.goodConfig.replacingOccurrences(of: "secret: \(Self.hmacSecret)", with: "secret_file: hmac")
                .replacingOccurrences(of: "client_secret: \(Self.oauthSecret)", with: "client_secret_file: oauth"))
        try cli.write("hmac", Self.hmacSecret + "\n")
        try cli.write("oauth", Self.oauthSecret)
        let printed = try await cli.run(["check-config", "--config", path])
        #expect(printed.status == 0, "\(printed.stderr)")
        // The printed configuration, with its redacted secrets dropped, is itself a valid file.
        let reprinted = printed.stdout.split(separator: "\n").filter { !$0.contains("<redacted>") }.joined(
            separator: "\n")
        let again = try await cli.run(["check-config", "--config", try cli.write("again.yaml", reprinted)])
        #expect(again.status == 0, "\(again.stderr)\n\(reprinted)")
    }

    @Test(arguments: [
        ("polling:\n  max_delay: 3\n", ["polling.max_delay", "max_delay_s"]),
        ("pollling:\n  max_delay_s: 3\n", ["pollling", "polling"]),
        ("accounts:\n  ACME_Co:\n    auth:\n      sceme: none\n", ["accounts.ACME_Co.auth.sceme", "scheme"]),
        ("accounts:\n  ACME_Co:\n    baseurl: https://x.example\n", ["accounts.ACME_Co.baseurl", "base_url"]),
    ])
    func anUnknownKeyExits78NamingIt(yaml: String, named: [String]) async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let result = try await cli.run(["check-config", "--config", try cli.write("bad.yaml", yaml)])
        #expect(result.status == 78)
        for text in named { #expect(result.stderr.contains(text), "\(result.stderr)") }
        #expect(result.stdout.isEmpty)
    }

    @Test(arguments: [
        ("polling:\n  max_delay_s: -1\n", ["polling.max_delay_s", "\"-1\""]),
        ("polling:\n  max_delay_s: 5\n", ["polling.max_delay_s", "polling.initial_delay_s"]),
        ("polling:\n  max_in_flight: 10001\n", ["polling.max_in_flight", "10001", "1..10000"]),
        ("polling:\n  multiplier: lots\n", ["polling.multiplier", "lots"]),
        ("database:\n  busy_timeout_s: 0.5\n", ["database.busy_timeout_s", "0.5"]),
        ("log:\n  level: verbose\n", ["log.level", "verbose", "trace|debug|info|notice|warning|error|critical"]),
        ("metrics:\n  listen: nowhere\n", ["metrics.listen", "nowhere"]),
        ("accounts:\n  ACME_Co:\n    accept: html\n", ["accounts.ACME_Co.accept", "html", "json|xml"]),
        (
            "accounts:\n  ACME_Co:\n    base_url: http://pm.example.com/Profiles\n",
            ["accounts.ACME_Co.base_url", "allow_insecure_http"]
        ),
        ("accounts:\n  ACME_Co:\n    base_url: not a url\n", ["accounts.ACME_Co.base_url", "not a url"]),
        ("accounts:\n  ACME_Co:\n    status_path: Status\n", ["accounts.ACME_Co.status_path", "{accessToken}"]),
        // Issue 17.10: a misspelled placeholder was sent literally.
        (
            "accounts:\n  ACME_Co:\n    status_path: 'Async/{clientid}/Export/{accessToken}/Status'\n",
            ["accounts.ACME_Co.status_path", "{clientid} would be sent literally"]
        ),
        (
            "accounts:\n  ACME_Co:\n    status_path: 'Async/{clientId/Export/{accessToken}/Status'\n",
            ["accounts.ACME_Co.status_path", "{clientId/Export/{accessToken}"]
        ),
        (
            "accounts:\n  ACME_Co:\n    auth:\n      scheme: kerberos\n",
            ["accounts.ACME_Co.auth.scheme", "none|pnauthinfo3|oauth"]
        ),
        (
            "accounts:\n  ACME_Co:\n    auth:\n      scheme: pnauthinfo3\n      user_id: u\n",
            ["accounts.ACME_Co.auth.secret"]
        ),
        (
            "accounts:\n  ACME_Co:\n    auth:\n      scheme: oauth\n      user_id: u\n      client_id: c\n      client_secret: s\n",
            ["accounts.ACME_Co.auth.token_url"]
        ),
        ("accounts:\n  \"ACME Co\":\n    accept: json\n", ["ACME Co", "client ID"]),
        ("polling: [1, 2]\n", ["polling", "mapping"]),
        ("polling: {\n", ["not valid YAML"]),
    ])
    func aBadValueIsAConfigurationErrorNamingTheKeyAndValue(yaml: String, named: [String]) async throws {
        // In process: the loader every command uses (its error is what `mprefd` prints, exit 78; the
        // binary's side of that is the test below).
        let cli = try CLI()  // its temporary directory only: nothing is run
        defer { cli.cleanUp() }
        let path = try cli.write("bad.yaml", yaml)
        do {
            _ = try await ConfigurationLoader(environment: [:]).load(path: path, isExplicit: true)
            Issue.record("\(yaml) was accepted")
        } catch let error as MprefdError {
            #expect(error.exitCode == .configuration)
            for text in named { #expect(error.message.contains(text), "\(error.message)") }
        }
    }

    /// Through the binary: `check-config` and every other command refuse a bad configuration with exit
    /// 78 and one line naming the key and the value.
    @Test func aBadValueExits78NamingTheKeyAndValue() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let path = try cli.write("bad.yaml", "polling:\n  max_in_flight: 10001\n")
        let result = try await cli.run(["check-config", "--config", path])
        #expect(result.status == 78)
        #expect(
            result.stderr.hasPrefix("mprefd: error: ") && result.stderr.contains("polling.max_in_flight")
                && result.stderr.contains("10001") && result.stderr.split(separator: "\n").count == 1,
            "\(result.stderr)")
        #expect(try await cli.run(["list", "--config", path]).status == 78)
    }

    @Test func allowInsecureHTTPPermitsPlainHTTP() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let path = try cli.write(
            "c.yaml",
            "accounts:\n  ACME_Co:\n    base_url: http://pm.example.com/Profiles\n    allow_insecure_http: true\n")
        #expect(try await cli.run(["check-config", "--config", path]).status == 0)
    }

    @Test func environmentVariablesOverrideTheFile() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let path = try cli.write("good.yaml", Self.goodConfig)
        let result = try await cli.run(
            ["check-config", "--config", path, "--json"],
            environment: [
                "MPREFD_POLLING_MAX_DELAY_S": "60",
                "MPREFD_ACCOUNTS_ACME_CO_ACCEPT": "json",
                "MPREFD_HOOKS_ON_FAILURE": "notify failed, now\nlog-it",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try result.json() as? [String: Any])
        #expect((json["polling"] as? [String: Any])?["max_delay_s"] as? Int == 60)
        #expect(((json["accounts"] as? [String: Any])?["ACME_Co"] as? [String: Any])?["accept"] as? String == "json")
        #expect((json["hooks"] as? [String: Any])?["on_failure"] as? [String] == ["notify failed, now", "log-it"])

        let text = try await cli.run(
            ["check-config", "--config", path], environment: ["MPREFD_POLLING_MAX_DELAY_S": "60"])
        #expect(text.stdout.contains("max_delay_s: 60"))
        #expect(text.stdout.contains("env MPREFD_POLLING_MAX_DELAY_S"))

        let bad = try await cli.run(
            ["check-config", "--config", path], environment: ["MPREFD_POLLING_MAX_DELAY_S": "soon"])
        #expect(bad.status == 78)
        #expect(bad.stderr.contains("polling.max_delay_s"))
        #expect(bad.stderr.contains("soon"))
        #expect(bad.stderr.contains("MPREFD_POLLING_MAX_DELAY_S"))

        // Without a file, the environment alone configures mprefd.
        let noFile = try await cli.run(["check-config", "--json"], environment: ["MPREFD_POLLING_MAX_DELAY_S": "61"])
        #expect(((try noFile.json() as? [String: Any])?["polling"] as? [String: Any])?["max_delay_s"] as? Int == 61)
    }

    @Test func aMisspelledEnvironmentOverrideIsAnErrorNamingTheClosestKey() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let path = try cli.write("good.yaml", Self.goodConfig)
        let typo = try await cli.run(
            ["check-config", "--config", path], environment: ["MPREFD_POLLING_MAX_DELAY": "60"])
        #expect(typo.status == 78)
        #expect(
            typo.stderr.contains("unknown configuration override MPREFD_POLLING_MAX_DELAY in the environment"),
            "\(typo.stderr)")
        #expect(typo.stderr.contains("did you mean MPREFD_POLLING_MAX_DELAY_S?"), "\(typo.stderr)")
        #expect(typo.stderr.split(separator: "\n").count == 1)

        // An account the file does not have cannot be added from the environment.
        let account = try await cli.run(
            ["check-config", "--config", path],
            environment: ["MPREFD_ACCOUNTS_NEW_CO_BASE_URL": "https://x.example.com"])
        #expect(account.status == 78)
        #expect(account.stderr.contains("the file has: ACME_Co, Other.Co-2"), "\(account.stderr)")

        // The variables mprefd gives hooks, and MPREFD_CONFIG/MPREFD_DB, are not overrides: a hook may run mprefd.
        let hookEnvironment = try await cli.run(
            ["check-config", "--config", path],
            environment: [
                "MPREFD_ACCESS_TOKEN": "123", "MPREFD_EVENT_ID": "e", "MPREFD_STATUS": "Complete",
                "MPREFD_DB": cli.databasePath,
                "MPREFD_ACCOUNTS_OTHER_CO_2_AUTH_USER_ID": "someone.else",
            ])
        #expect(hookEnvironment.status == 0, "\(hookEnvironment.stderr)")
        #expect(hookEnvironment.stdout.contains("someone.else"))

        // A name a letter or two from a key, and a key in the wrong case, are mistakes too;
        // a hook's own MPREFD_* setting far from every key is not.
        let squashed = try await cli.run(["check-config", "--config", path], environment: ["MPREFD_LOGLEVEL": "trace"])
        #expect(
            squashed.status == 78 && squashed.stderr.contains("did you mean MPREFD_LOG_LEVEL?"), "\(squashed.stderr)")
        let lower = try await cli.run(["check-config", "--config", path], environment: ["mprefd_log_level": "trace"])
        #expect(
            lower.status == 78
                && lower.stderr.contains(
                    "environment variable names are case-sensitive; did you mean MPREFD_LOG_LEVEL?"),
            "\(lower.stderr)")
        let own = try await cli.run(
            ["check-config", "--config", path], environment: ["MPREFD_ETL_STATE_DIR": "/var/lib/etl"])
        #expect(own.status == 0, "\(own.stderr)")
    }

    @Test func anOverrideThatSeveralClientIDsSpellAlikeIsRefused() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let path = try cli.write(
            "twins.yaml",
            """
            accounts:
              a.b:
                base_url: https://one.example.com
              a-b:
                base_url: https://two.example.com
            """)
        let result = try await cli.run(
            ["check-config", "--config", path], environment: ["MPREFD_ACCOUNTS_A_B_BASE_URL": "https://x.example.com"])
        #expect(result.status == 78)
        #expect(
            result.stderr.contains("MPREFD_ACCOUNTS_A_B_BASE_URL would override accounts a.b, a-b alike"),
            "\(result.stderr)")
        // Without the variable, both accounts load as the file says.
        #expect(try await cli.run(["check-config", "--config", path]).status == 0)
    }

    @Test func secretFilesResolveAgainstTheCredentialsDirectory() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let credentials = cli.directory.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        try Data((Self.hmacSecret + "\n").utf8).write(to: credentials.appendingPathComponent("acme-hmac"))
        let path = try cli.write(
            "c.yaml",
            """
            accounts:
              ACME_Co:
                auth:
                  scheme: pnauthinfo3
                  user_id: etl.user
                  secret_file: acme-hmac
            """)
        let result = try await cli.run(
            ["check-config", "--config", path], environment: ["CREDENTIALS_DIRECTORY": credentials.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(credentials.appendingPathComponent("acme-hmac").path))
        #expect(result.stdout.contains("secret: <redacted>"))
        #expect(!result.stdout.contains(Self.hmacSecret) && !result.stderr.contains(Self.hmacSecret))

        // Without $CREDENTIALS_DIRECTORY the relative path resolves against the config file's directory: missing there.
        let missing = try await cli.run(["check-config", "--config", path])
        #expect(missing.status == 78)
        #expect(missing.stderr.contains("accounts.ACME_Co.auth.secret_file"))
        #expect(missing.stderr.contains(cli.directory.appendingPathComponent("acme-hmac").path))

        // Both the secret and its file: ambiguous.
        let both = try cli.write(
            "both.yaml",
            "accounts:\n  A:\n    auth:\n      scheme: pnauthinfo3\n      user_id: u\n      secret: x\n      secret_file: acme-hmac\n"
        )
        let bothResult = try await cli.run(
            ["check-config", "--config", both], environment: ["CREDENTIALS_DIRECTORY": credentials.path])
        #expect(bothResult.status == 78)
        #expect(bothResult.stderr.contains("secret_file"))
    }

    @Test func anUnreadableSecretFileIsNamedButNotPrinted() async throws {
        // Root reads any file, so unreadability is shown with a directory where the file should be.
        let cli = try CLI()
        defer { cli.cleanUp() }
        try FileManager.default.createDirectory(
            at: cli.directory.appendingPathComponent("hmac-dir"), withIntermediateDirectories: true)
        let path = try cli.write(
            "c.yaml",
            "accounts:\n  A:\n    auth:\n      scheme: pnauthinfo3\n      user_id: u\n      secret_file: hmac-dir\n")
        let result = try await cli.run(["check-config", "--config", path])
        #expect(result.status == 78)
        #expect(result.stderr.contains("accounts.A.auth.secret_file"))
    }

    @Test func aMissingExplicitConfigIsAnErrorButAMissingDefaultIsNot() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let missing = cli.directory.appendingPathComponent("nope.yaml").path
        let explicit = try await cli.run(["check-config", "--config", missing])
        #expect(explicit.status == 78)
        #expect(explicit.stderr.contains(missing))
        let viaEnvironment = try await cli.run(["check-config"], environment: ["MPREFD_CONFIG": missing])
        #expect(viaEnvironment.status == 78)
        if !FileManager.default.fileExists(atPath: "/etc/mprefd/mprefd.yaml") {
            let byDefault = try await cli.run(["check-config"], removing: ["MPREFD_CONFIG"])
            #expect(byDefault.status == 0, "\(byDefault.stderr)")
            #expect(byDefault.stdout.contains("config file: none"))
        }
    }

    @Test func addTokenChecksTheClientIDAgainstTheConfiguredAccounts() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let one = try cli.write("one.yaml", "accounts:\n  ACME_Co:\n    accept: json\n")
        let defaulted = try await cli.run(["add-token", "--config", one, "5", "--json"])
        #expect(defaulted.status == 0, "\(defaulted.stderr)")
        #expect(
            ((try defaulted.json() as? [[String: Any]])?.first?["token"] as? [String: Any])?["client_id"] as? String
                == "ACME_Co")

        let unknown = try await cli.run(["add-token", "--config", one, "--client-id", "Other", "6"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("Other") && unknown.stderr.contains("ACME_Co"))

        let two = try cli.write("two.yaml", "accounts:\n  ACME_Co: {}\n  Beta: {}\n")
        let ambiguous = try await cli.run(["add-token", "--config", two, "7"])
        #expect(ambiguous.status == 64)
        #expect(ambiguous.stderr.contains("ACME_Co, Beta"))
        #expect(try await cli.run(["add-token", "--config", two, "--client-id", "Beta", "7"]).status == 0)
        #expect(try await cli.query("SELECT client_id, access_token FROM tokens ORDER BY id").count == 2)
    }

    @Test func theConfiguredDeadlineIsTheDefault() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let none = try cli.write("none.yaml", "polling:\n  deadline_s: 0\n")
        let noDeadline = try await cli.run(["add-token", "--config", none, "--client-id", "A", "1", "--json"])
        let token = try #require((try noDeadline.json() as? [[String: Any]])?.first?["token"] as? [String: Any])
        #expect(token["deadline_at"] is NSNull, "every column is present; no deadline is null")
        let explicit = try await cli.run([
            "add-token", "--config", none, "--client-id", "A", "2", "--deadline", "2d", "--json",
        ])
        let token2 = try #require((try explicit.json() as? [[String: Any]])?.first?["token"] as? [String: Any])
        let added = try #require(token2["added_at"] as? String),
            deadline = try #require(token2["deadline_at"] as? String)
        let seconds = try await cli.query(
            "SELECT round((julianday('\(deadline)') - julianday('\(added)')) * 86400) AS s", database: ":memory:")
        #expect(seconds.first?["s"] as? Double == 172_800)
    }

    @Test func oddConfigPathsGiveOneClearLine() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let devNull = try await cli.run(["check-config", "--config", "/dev/null"])
        #expect(devNull.status == 0, "an empty device is an empty configuration: \(devNull.stderr)")
        let directory = try await cli.run(["check-config", "--config", cli.directory.path])
        #expect(directory.status == 78)
        #expect(directory.stderr.contains("is a directory"))
        let binary = try cli.write("binary.yaml", "")
        try Data([0xFF, 0xFE, 0x00, 0x41]).write(to: URL(fileURLWithPath: binary))
        let notText = try await cli.run(["check-config", "--config", binary])
        #expect(notText.status == 78)
        #expect(notText.stderr.contains("not UTF-8"))
        #expect(notText.stderr.split(separator: "\n").count == 1)
    }
}

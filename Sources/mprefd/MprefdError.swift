import ArgumentParser
import MprefStore

/// The exit codes of every mprefd command (sysexits.h values where one fits), as ArgumentParser's
/// own ``ExitCode``: the one type every command throws or carries (in ``MprefdError``).
///
/// Documented in `mprefd --help`; scripts branch on them.
extension ExitCode {
    /// Exit 1: a lookup found nothing (`mprefd show 123` for an unknown token); `wait`: a token failed,
    /// expired, timed out or was removed.
    static let notFound = ExitCode(1)
    /// Exit 2: `wait --timeout` ran out.
    static let waitTimedOut = ExitCode(2)
    /// Exit 3: `status`, `wait`: the daemon is not running (or its heartbeat is stale).
    static let notRunning = ExitCode(3)
    /// Exit 4: `status`: the daemon runs but is degraded (``StatusProblems``).
    static let degraded = ExitCode(4)
    /// Exit 5: `export`: the initiate's outcome is unknown (its answer was lost), or an earlier export
    /// of the segment's is; an operator settles it with `export --resolve` or `--abandon`.
    static let unknownOutcome = ExitCode(5)
    /// EX_USAGE (64, ArgumentParser's `validationFailure`): a bad argument or value (access token,
    /// client ID, duration, state).
    static let usage = ExitCode.validationFailure
    /// EX_DATAERR (65): bad input data.
    static let dataError = ExitCode(65)
    /// EX_UNAVAILABLE (69): the database is missing (read commands), or its schema is too new or too old.
    static let unavailable = ExitCode(69)
    /// EX_SOFTWARE (70): an internal error.
    static let software = ExitCode(70)
    /// EX_TEMPFAIL (75): the database stayed locked by another process past the busy timeout; retry.
    static let temporaryFailure = ExitCode(75)
    /// EX_CONFIG (78): the configuration file, an `MPREFD_*` override or a secret file is wrong.
    static let configuration = ExitCode(78)

    /// The table shown in the root command's `--help`.
    static let helpTable = """
        Exit codes:
          0   ok
          1   not found (e.g. `show` of a token that is not watched);
              `wait`: a token failed, expired or timed out
          2   `wait`: --timeout ran out
          3   `status`, `wait`: the daemon is not running (or its heartbeat is stale)
          4   `status`: running but degraded (failing polls, dead hooks, tokens
              not polled)
          5   `export`: the export may have started but its access token is unknown
              (or an earlier export of the segment's is): `export --resolve/--abandon`
          64  usage: a bad argument or value (access token, client ID, duration,
              state); `export`: the server refused the request (400)
          65  bad data: the database file is not an SQLite database or is damaged,
              or a row cannot be read (edited outside the schema)
          69  unavailable: database or its directory missing, schema too new or too
              old, SQLite older than 3.37.0; `check-config --probe`: a host unreachable
          70  internal error
          75  temporary failure: database locked past database.busy_timeout_s (retry),
              or another `mprefd run` already runs on the database
          78  configuration error: bad key or value (file or MPREFD_* variable),
              missing --config file, unreadable secret file, metrics.listen that
              cannot be listened on; `check-config --probe`: an account misconfigured
        """
}

/// An error that ends a command: one line on stderr (`mprefd: error: MESSAGE`) and an exit code.
///
/// `message` names the bad value and the fix; it never contains a secret. A command whose output
/// already says everything throws the bare ``ExitCode`` instead (`status` degraded, `check-config
/// --probe`).
struct MprefdError: Error, CustomStringConvertible, Sendable {
    /// One of the codes of the ``ExitCode`` extension.
    var exitCode: ExitCode
    var message: String

    init(exitCode: ExitCode, _ message: String) {
        self.exitCode = exitCode
        self.message = message
    }

    var description: String { message }

    /// Exit 64: a bad argument or value.
    static func usage(_ message: String) -> MprefdError { MprefdError(exitCode: .usage, message) }
    /// Exit 1: the named thing does not exist.
    static func notFound(_ message: String) -> MprefdError { MprefdError(exitCode: .notFound, message) }
    /// Exit 78: a configuration error.
    static func configuration(_ message: String) -> MprefdError { MprefdError(exitCode: .configuration, message) }

    /// Maps a database error to the documented exit codes.
    init(_ error: StoreError) {
        let code: ExitCode =
            switch error.code {
            case .busy: .temporaryFailure
            case .directoryMissing, .databaseMissing, .schemaTooNew, .schemaTooOld, .cannotOpen, .sqliteTooOld:
                .unavailable
            case .notFound: .notFound
            case .corrupt: .dataError
            }
        self.init(exitCode: code, error.message)
    }
}

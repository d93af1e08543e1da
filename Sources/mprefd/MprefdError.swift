import ArgumentParser
import MprefStore

/// The exit codes of every mprefd command (sysexits.h values where one fits).
///
/// Documented in `mprefd --help`; scripts branch on them.
enum MprefdExit {
    /// Success.
    static let ok: Int32 = 0
    /// A lookup found nothing (`mprefd show 123` for an unknown token).
    static let notFound: Int32 = 1
    /// `export`: the initiate's outcome is unknown (its answer was lost), or an earlier export of the
    /// segment's is; an operator settles it with `export --resolve` or `--abandon`.
    static let unknownOutcome: Int32 = 5
    /// EX_USAGE: a bad argument or value (access token, client ID, duration, state).
    static let usage: Int32 = 64
    /// EX_DATAERR: bad input data.
    static let dataError: Int32 = 65
    /// EX_UNAVAILABLE: the database is missing (read commands), or its schema is too new or too old.
    static let unavailable: Int32 = 69
    /// EX_SOFTWARE: an internal error.
    static let software: Int32 = 70
    /// EX_TEMPFAIL: the database stayed locked by another process past the busy timeout; retry.
    static let temporaryFailure: Int32 = 75
    /// EX_CONFIG: the configuration file, an `MPREFD_*` override or a secret file is wrong.
    static let configuration: Int32 = 78

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
          64  usage: a bad argument or value (access token, client ID, duration, state);
              `export`: the server refused the request (400)
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
/// `message` names the bad value and the fix; it never contains a secret.
struct MprefdError: Error, CustomStringConvertible, Sendable {
    /// One of ``MprefdExit``.
    var exitCode: Int32
    var message: String

    init(exitCode: Int32, _ message: String) {
        self.exitCode = exitCode
        self.message = message
    }

    var description: String { message }

    /// Exit 64: a bad argument or value.
    static func usage(_ message: String) -> MprefdError { MprefdError(exitCode: MprefdExit.usage, message) }
    /// Exit 1: the named thing does not exist.
    static func notFound(_ message: String) -> MprefdError { MprefdError(exitCode: MprefdExit.notFound, message) }
    /// Exit 78: a configuration error.
    static func configuration(_ message: String) -> MprefdError { MprefdError(exitCode: MprefdExit.configuration, message) }

    /// Maps a database error to the documented exit codes.
    init(_ error: StoreError) {
        let code: Int32 = switch error.code {
        case .busy: MprefdExit.temporaryFailure
        case .directoryMissing, .databaseMissing, .schemaTooNew, .schemaTooOld, .cannotOpen, .sqliteTooOld: MprefdExit.unavailable
        case .notFound: MprefdExit.notFound
        case .corrupt: MprefdExit.dataError
        }
        self.init(exitCode: code, error.message)
    }
}

import Foundation
import MprefStore
import MprefWorker
import MprefCore

/// Whether an export's `mprefd export` process is still sending it: its PID runs and is the same
/// process (`boot_id/starttime`, so a reused PID does not count).
enum ExportSender {
    static func isAlive(_ export: ExportRecord) -> Bool {
        guard export.state == .sending, let pid = export.senderPID, pid > 1, let recorded = export.senderIdentity else {
            return false
        }
        return ProcessIdentity.identity(of: pid) == recorded
    }

    /// This process, for the `exports` row it sends.
    static var current: (pid: Int32, identity: String?) {
        let pid = getpid()
        return (pid, ProcessIdentity.identity(of: pid))
    }
}

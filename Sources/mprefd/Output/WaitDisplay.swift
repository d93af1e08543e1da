import Foundation
import MprefStore
import MprefCore

/// How `wait` shows progress: one redrawn line on a terminal, plain change lines otherwise.
///
/// Change lines go to stdout when it is not a terminal (every state or status change); when stdout
/// is a terminal only finished tokens get a line there. The live line goes to stderr when it is a
/// terminal, else to stdout when that is one.
struct WaitDisplay {
    private let liveDescriptor: Int32?
    private let isStdoutTerminal: Bool
    private var lastSeen: [TokenID: String] = [:]
    private var isLiveLineDrawn = false
    /// Shown at the end of the live line (e.g. the daemon is restarting).
    var daemonNote: String?

    init() {
        isStdoutTerminal = isatty(STDOUT_FILENO) == 1
        liveDescriptor = isatty(STDERR_FILENO) == 1 ? STDERR_FILENO : (isStdoutTerminal ? STDOUT_FILENO : nil)
    }

    mutating func show(_ progress: WaitProgress, elapsed: Duration) {
        for token in progress.tokens {
            let key = "\(token.state.rawValue)|\(token.lastStatus ?? "")"
            guard lastSeen[token.id] != key else { continue }
            lastSeen[token.id] = key
            if !isStdoutTerminal || WaitProgress.isFinished(token.state) {
                clearLiveLine()
                Self.write(STDOUT_FILENO, WaitProgress.line(token) + "\n")
            }
        }
        guard let liveDescriptor, !progress.isFinished else { return }
        var parts = ["waiting: \(progress.finished.count)/\(progress.tokens.count) finished"]
        let unfinished = progress.unfinished
        if let first = unfinished.first {
            let where_ =
                first.state == .paused || first.state == .downloading
                ? first.state.rawValue : first.lastStatus ?? "not polled yet"
            var text = first.displayName + " " + where_
            if first.state == .watching, first.attempt > 0 { text += " (attempt \(first.attempt))" }
            if unfinished.count > 1 { text += " +\(unfinished.count - 1) more" }
            parts.append(text)
        }
        if let daemonNote { parts.append(daemonNote) }
        parts.append(DaemonHealth.format(duration: Double(elapsed.components.seconds)))
        var line = parts.joined(separator: " · ")
        let width = Self.terminalWidth(liveDescriptor)
        if line.count >= width { line = String(line.prefix(max(1, width - 2))) + "…" }
        Self.write(liveDescriptor, "\r\u{1B}[K" + line)
        isLiveLineDrawn = true
    }

    /// Clears the live line before the final output.
    mutating func finish() { clearLiveLine() }

    private mutating func clearLiveLine() {
        guard isLiveLineDrawn, let liveDescriptor else { return }
        Self.write(liveDescriptor, "\r\u{1B}[K")
        isLiveLineDrawn = false
    }

    private static func write(_ descriptor: Int32, _ text: String) {
        let handle = descriptor == STDERR_FILENO ? FileHandle.standardError : FileHandle.standardOutput
        handle.write(Data(text.utf8))
    }

    private static func terminalWidth(_ descriptor: Int32) -> Int {
        var size = winsize()
        if ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }
}

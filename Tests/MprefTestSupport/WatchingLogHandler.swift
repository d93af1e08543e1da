import Logging

/// A log handler that calls `onLog` with every message and its metadata as it is logged, at every
/// level the logger lets through: lets a test wait on a log line as an event (where
/// `InMemoryLogHandler` keeps the lines for reading afterwards).
package struct WatchingLogHandler: LogHandler {
    package var metadata: Logger.Metadata = [:]
    package var logLevel: Logger.Level = .trace
    private let onLog: @Sendable (Logger.Message, Logger.Metadata?) -> Void

    package init(onLog: @escaping @Sendable (Logger.Message, Logger.Metadata?) -> Void) {
        self.onLog = onLog
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) { onLog(message, metadata) }
}

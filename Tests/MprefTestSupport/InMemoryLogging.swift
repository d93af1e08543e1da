// swift-log's in-memory log handler (its `InMemoryLogging` module, swift-log 1.16.2+), for every test target
// that depends on this one: `let handler = InMemoryLogHandler()`, a `Logger(label:factory: { _ in handler })`,
// then `handler.entries` (level, message, metadata of each entry, in order).
@_exported import InMemoryLogging

import ServiceLifecycle

/// An HTTP listener of `mprefd run` (`metrics.listen`, `callbacks.listen`) failed after its start-up
/// check passed: one line naming the key and the way out.
struct ListenerFailure: Error, CustomStringConvertible {
    /// The configuration key, e.g. `metrics.listen`.
    var key: String
    /// What listens there, e.g. "the metrics endpoint".
    var what: String
    /// What setting the key to "" turns off, e.g. "metrics".
    var feature: String
    var address: ListenAddress
    var reason: String

    var description: String {
        "\(what) (\(key) \(address)) failed: \(reason); polling stopped. Fix or free the address, or set \(key): \"\" to turn \(feature) off"
    }
}

/// A listener's server as a service whose failure is a ``ListenerFailure`` naming its key.
struct NamedListenerService<Inner: Service>: Service {
    var inner: Inner
    var failure: ListenerFailure

    func run() async throws {
        do {
            try await inner.run()
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            var failure = failure
            failure.reason = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            throw failure
        }
    }
}

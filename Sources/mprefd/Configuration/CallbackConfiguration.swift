import Foundation
import MprefWorker
import MyPreferences

/// `callbacks.*`: the export-complete callback, on only when `callbacks.listen` is set.
///
/// `mprefd export` then sends `CallbackURL = <public_url>/<id>` (``callbackURL(id:)``), and
/// `mprefd run` listens on ``listen`` (behind the operator's TLS reverse proxy) for POSTs to it.
struct CallbackConfiguration: Sendable, Hashable {
    /// `callbacks.listen`: where the daemon's callback listener binds (loopback for `:PORT`).
    var listen: ListenAddress
    /// `callbacks.public_url`: the URL the reverse proxy exposes for the listener, without a
    /// trailing `/`; https, or http to a loopback host.
    var publicURL: String
    /// `callbacks.rate_per_source_per_s`: the token bucket's refill, callbacks per second per
    /// source. Default 5.
    var ratePerSourcePerSecond: Double
    /// `callbacks.burst_per_source`: the bucket's size, callbacks. Default 20.
    var burstPerSource: Int
    /// `callbacks.safety_interval_s`: seconds between the status polls of an export that awaits its
    /// callback (``CallbackSafetyNet``); `nil` (the key set to 0) = such exports are polled as without
    /// callbacks. Default 1800 s.
    var safetyInterval: Duration?

    init(
        listen: ListenAddress, publicURL: String, ratePerSourcePerSecond: Double = 5, burstPerSource: Int = 20,
        safetyInterval: Duration? = CallbackSafetyNet.defaultInterval
    ) {
        self.safetyInterval = safetyInterval
        self.listen = listen
        var trimmed = publicURL
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.publicURL = trimmed
        self.ratePerSourcePerSecond = ratePerSourcePerSecond
        self.burstPerSource = burstPerSource
    }

    /// The `CallbackURL` sent for the export whose callback id is `id`: `<public_url>/<id>`.
    func callbackURL(id: String) -> String { publicURL + "/" + id }

    /// Longest `public_url` accepted, in bytes (the id and a `/` are appended).
    static let longestPublicURL = 1024

    /// What `text` must be instead, or `nil` when it is a usable `public_url`: an absolute URL with a
    /// host, no user info, query or fragment, https (plain http only to a loopback host, for tests
    /// and a proxy on the same machine), at most ``longestPublicURL`` bytes.
    static func publicURLProblem(_ text: String) -> String? {
        let rule =
            "an absolute https URL with a host, without a user, query or fragment, at most \(longestPublicURL) bytes, e.g. https://etl.example.com/mprefd/callback (plain http:// only to a loopback host)"
        guard text.utf8.count <= longestPublicURL, !URLCheck.hasUserInfo(text) else { return rule }
        do {
            try StatusURL.validate(text, field: "callbacks.public_url", allowInsecureHTTP: false)
            return nil
        } catch let error as ClientConfigurationError where error.code == .insecureHTTP {
            return
                "https:// (plain http:// is allowed only to a loopback host: the vendor would send the callback in clear text)"
        } catch {
            return rule
        }
    }
}

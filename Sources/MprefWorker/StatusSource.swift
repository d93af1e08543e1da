import MprefCore
import MprefStore
import MyPreferences

/// Something that answers a status poll: the real `MyPreferencesClient`, or a stand-in in tests.
package protocol StatusSource: Sendable {
    /// Polls the status of one export; never throws (failures are outcomes).
    func status(of accessToken: AccessToken) async -> PollResult
}

extension MyPreferencesClient: StatusSource {}

/// Where the tokens of one client ID are polled.
package struct PollTarget: Sendable {
    package var source: any StatusSource
    /// `scheme://host:port` of the account's base URL: the subject of a host pause (503).
    package var hostKey: String
    /// Where the account's completed exports are downloaded from; `nil` = never (tests, the probe).
    package var downloads: (any DownloadSource)?
    /// The account's download configuration.
    package var download: DownloadSettings

    package init(
        source: any StatusSource, hostKey: String, downloads: (any DownloadSource)? = nil,
        download: DownloadSettings = DownloadSettings()
    ) {
        self.source = source
        self.hostKey = hostKey
        self.downloads = downloads
        self.download = download
    }

    /// Whether `token`'s completed export is downloaded: its own setting, else the account's.
    package func delivers(_ token: WatchedToken) -> Bool {
        downloads != nil && (token.download ?? download.enabled)
    }

    /// `scheme://host:port` of `baseURL` (default ports filled in), lower-cased; the URL itself when
    /// it is not an http(s) URL with a host (``validHostKey(of:)`` says which).
    package static func hostKey(of baseURL: String) -> String {
        validHostKey(of: baseURL) ?? baseURL
    }

    /// `scheme://host:port` of an http or https URL with a host (default ports filled in, lower-cased,
    /// surrounding spaces ignored); `nil` for anything else.
    package static func validHostKey(of url: String) -> String? {
        guard let components = URLComponents(string: url.trimmingCharacters(in: .whitespaces)),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host?.lowercased(), !host.isEmpty
        else { return nil }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(host):\(port)"
    }
}

import Foundation

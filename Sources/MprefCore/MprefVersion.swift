/// The version of this mprefd build: `mprefd --version`, the daemon's heartbeat, the HTTP
/// `User-Agent` (`mprefd/<version>`). The one place it is written.
package enum MprefVersion {
    package static let current = "0.2.0"
}

/// The version of this mprefd build, printed by `mprefd --version` and recorded in the daemon's heartbeat.
enum MprefdVersion {
    static let current = "0.1.0"
}
